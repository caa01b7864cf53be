"""Train the social-post classifiers the pipeline ships (``models/relevance.pkl.gz``).

Data (``../shared/data``, see its README for sources and licences):

- relevance: "NLP with Disaster Tweets" (Kaggle's training file as kept in
  the shared data: real disaster or not) and CrisisLexT6 (Olteanu et al.,
  ICWSM 2014: on-topic or off-topic posts of five crises), a shuffled sample
  of ``--t6-per-event`` posts of each T6 event, interleaved with every
  disaster tweet but every fifth (seed 6). The keyword column is not used:
  live posts have none. The held-out posts (every fifth disaster tweet, and
  500 T6 posts per event outside the sample) give the shipped snapshot's F1.
- information type: CrisisLexT26 (Olteanu et al., CSCW 2015), every labelled
  post ("Not labeled" dropped) in time order.

Character n-grams are off, which keeps the file small (a few MB unpacked) and
costs little on these sets (``make eval-relevance`` measures both shapes).
Each classifier learns the posts one at a time, as it would online; the
relevance cut is the F1-best one over its own pre-learning predictions.

    python -m benchmarks.train_relevance [--out models/relevance.pkl.gz]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from agents.settings import ROOT
from benchmarks.classify import f1_score
from benchmarks.workload import say
from pipeline.relevance import InfoTypeClassifier, RelevanceClassifier, features
from pipeline.social import PostTriage

SHARED_DATA = ROOT.parent / "shared" / "data"
SEED = 6
#: T6 posts of each event the shipped classifier learnt (``--t6-per-event``).
T6_PER_EVENT = 3000


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


Posts = list[tuple[str, bool]]


def relevance_posts(data: Path, per_event: int) -> tuple[Posts, Posts, Posts]:
    """Training posts, and two held-out sets: every fifth disaster tweet, and
    up to 500 T6 posts per event outside the sample."""
    tweets, crisis, rests, rng = _split(data, per_event)
    train = [t for i, t in enumerate(tweets) if i % 5] + crisis
    rng.shuffle(train)
    return train, tweets[::5], [post for rest in rests for post in rest[:500]]


def unlearnt_posts(data: Path, per_event: int = T6_PER_EVENT) -> tuple[Posts, Posts]:
    """The posts the shipped classifiers never learnt: every fifth disaster
    tweet, and every T6 post outside its event's sample, but copies of a
    learnt one (retweets) (the generator's posts about no emergency are drawn
    from these, so the gate meets them as it would meet live posts)."""
    tweets, crisis, rests, _ = _split(data, per_event)
    learnt = {text for i, (text, _) in enumerate(tweets) if i % 5}
    learnt.update(text for text, _ in crisis)
    return ([post for post in tweets[::5] if post[0] not in learnt],
            [post for rest in rests for post in rest if post[0] not in learnt])


def _split(data: Path, per_event: int
           ) -> tuple[Posts, Posts, list[Posts], random.Random]:
    """Every disaster tweet, the T6 sample of ``per_event`` posts per event,
    the rest of each event's posts, and the generator that shuffled them."""
    rng = random.Random(SEED)
    tweets = [(r["text"], r["target"] == "1")
              for r in rows(data / "disaster_tweets" / "train.csv")]
    by_event: dict[str, Posts] = {}
    for r in rows(data / "crisislex" / "crisislex_t6_ontopic.csv"):
        on_topic = r["label"] == "on-topic"
        by_event.setdefault(r["event"], []).append((r["text"], on_topic))
    crisis, rests = [], []
    for posts in by_event.values():
        rng.shuffle(posts)
        crisis.extend(posts[:per_event])
        rests.append(posts[per_event:])
    return tweets, crisis, rests, rng


def held_out_f1(triage: PostTriage, posts: Posts) -> float:
    return f1_score([(triage.judge(text)["emergency"], label)
                     for text, label in posts])


def seen(texts: list[str]) -> Counter[str]:
    """How many posts each feature (words and word pairs) occurred in."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(features(text, chars=False))
    return counts


def prune_bayes(bayes: Any, counts: Counter[str], min_count: int) -> None:
    """Forget the naive Bayes counts of features rarer than ``min_count``."""
    for name in [f for f in bayes.feature_counts if counts[f] < min_count]:
        del bayes.feature_counts[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "models" / "relevance.pkl.gz")
    parser.add_argument("--t6-per-event", type=int, default=T6_PER_EVENT)
    parser.add_argument("--min-count", type=int, default=3,
                        help="features in fewer posts are not shipped")
    args = parser.parse_args(argv)

    posts, tweets_held, crisis_held = relevance_posts(args.data,
                                                      args.t6_per_event)
    relevance = RelevanceClassifier(chars=False)
    for text, label in posts:
        relevance.learn_one(text, label)
    say(f"relevance: {len(posts):,} posts, threshold {relevance.threshold:.3f}")

    labelled = sorted((r for r in rows(args.data / "crisislex"
                                       / "crisislex_t26_labeled.csv")
                       if r["info_type"] != "Not labeled"),
                      key=lambda r: r["created_at_utc"])
    info = InfoTypeClassifier()
    for r in labelled:
        info.learn_one(r["text"], r["info_type"])
    say(f"information type: {len(labelled):,} posts")

    # Rare features (most word pairs occur once) are most of the size and
    # little of the decisions; the threshold history only serves learning.
    counts = seen([text for text, _ in posts])
    weights = relevance.linear._weights
    for name in [f for f in weights if counts[f] < args.min_count]:
        del weights[name]
    prune_bayes(relevance.bayes, counts, args.min_count)
    prune_bayes(info.bayes, seen([r["text"] for r in labelled]), args.min_count)
    relevance.history.clear()
    triage = PostTriage(relevance, info)
    triage.save(args.out)
    size = args.out.stat().st_size
    figures = {
        "relevance_posts": len(posts), "info_type_posts": len(labelled),
        "threshold": round(relevance.threshold, 4), "bytes": size,
        "held_out_f1_disaster_tweets": round(held_out_f1(triage, tweets_held), 4),
        "held_out_f1_crisislex_t6": round(held_out_f1(triage, crisis_held), 4),
        "held_out_posts": [len(tweets_held), len(crisis_held)],
    }
    say(f"wrote {args.out} ({size:,} bytes)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
