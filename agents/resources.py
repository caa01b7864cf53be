"""Loading ``topics.yaml`` and the rule tables of ``models/`` into pipeline objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import yaml

from agents.exceptions import ConfigError
from pipeline.addresses import AddressBook
from pipeline.alert import AlertRules
from pipeline.citizen import CitizenTemplates
from pipeline.dedupe import MatchParams
from pipeline.districts import Districts
from pipeline.fields import NormalizeConfig, SourceArea
from pipeline.geo import Box
from pipeline.kinds import KindTable
from pipeline.learned_score import LearnedScorer, ModelRule
from pipeline.localtime import zone
from pipeline.places import Gazetteer
from pipeline.route import RouteParams
from pipeline.score import PriorityScorer
from pipeline.social import PostTriage, RelevanceRule
from pipeline.surge import SurgeParams
from pipeline.thread import ThreadParams


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    format: str | None
    compacted: bool
    #: Internal topics carry bundles: JSON arrays of one partition's records.
    bundled: bool


def load_topics(path: Path) -> dict[str, TopicSpec]:
    data = read_yaml(path)
    default_partitions = int(data.get("defaults", {}).get("partitions", 4))
    specs = {}
    from pipeline.normalize import PARSERS

    for name, spec in data["topics"].items():
        if spec.get("format") is not None and spec["format"] not in PARSERS:
            raise ConfigError(f"{path}: topic {name} names an unknown format "
                              f"{spec['format']!r}; known: {sorted(PARSERS)}")
        specs[name] = TopicSpec(
            name=name,
            partitions=int(spec.get("partitions", default_partitions)),
            format=spec.get("format"),
            compacted=spec.get("retention") == "compact",
            bundled=bool(spec.get("bundled", False)),
        )
    return specs


@dataclass(frozen=True)
class Models:
    """Every rule table the stages use, loaded once per worker."""

    kinds: KindTable
    normalize: NormalizeConfig
    match: MatchParams
    scorer: PriorityScorer
    route: RouteParams
    fleet: dict[str, Any]
    alerts: AlertRules
    surge: SurgeParams
    #: How a reporter's follow-ups borrow their last fix (``pipeline/thread.py``).
    thread: ThreadParams
    #: Place names with a centre and radius, per source (``pipeline/places.py``).
    places: Gazetteer
    #: Address points per source, read on first use (``pipeline/addresses.py``).
    addresses: AddressBook
    #: Status updates and surveys to reporters (``pipeline/citizen.py``).
    citizen: CitizenTemplates
    #: The rules' priority with the online model's say (``score_model.yaml``).
    learned: LearnedScorer
    #: Whether social posts are judged, and where their classifiers are.
    relevance: RelevanceRule
    models_dir: Path


def load_triage(models: Models) -> PostTriage | None:
    """The social-post classifiers, loaded by the worker that judges posts
    (not by every tool that reads the rule tables); None when the gate is off."""
    rule = models.relevance
    if not rule.enabled:
        return None
    path = models.models_dir / rule.snapshot
    try:
        return PostTriage.load(path, rule.threshold, models.normalize.kinds
                               if rule.keep_typed_at_street else None)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing: run python -m "
                          f"benchmarks.train_relevance, or set enabled: false in "
                          f"relevance.yaml") from exc


def match_follow_up_s(models_dir: Path) -> float:
    """The thread lends a fix as long as dedupe joins a reporter's follow-ups."""
    return float(MatchParams.from_config(read_yaml(models_dir / "dedupe.yaml"))
                 .follow_up_s)


def load_alert_rules(models_dir: Path) -> AlertRules:
    """The alert rules with the district polygons they name (``districts_file``,
    next to the rules)."""
    config = read_yaml(models_dir / "alert_rules.yaml")
    districts_file = config.get("districts_file")
    districts = (Districts.from_config(read_yaml(models_dir / districts_file))
                 if districts_file else None)
    return AlertRules.from_config(config, districts)


def load_models(models_dir: Path, reporter_key: str = "") -> Models:
    try:
        kinds = KindTable.from_config(read_yaml(models_dir / "incident_types.yaml"))
        areas = read_yaml(models_dir / "service_areas.yaml")["sources"]
        sources = {
            name: SourceArea(zone=spec["zone"], box=Box(**spec["box"]))
            for name, spec in areas.items()
        }
        for name, source in sources.items():
            try:
                zone(source.zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ConfigError(
                    f"service_areas.yaml: source {name} has an unknown time zone "
                    f"{source.zone!r}"
                ) from exc
        normalize = NormalizeConfig(
            kinds, sources,
            reporter_key=(reporter_key or "intake-default-reporter-key").encode(),
        )
        fleet = read_yaml(models_dir / "fleet.yaml")
        scorer = PriorityScorer(kinds, read_yaml(models_dir / "priority.yaml"))
        return Models(
            kinds=kinds,
            normalize=normalize,
            match=MatchParams.from_config(read_yaml(models_dir / "dedupe.yaml")),
            scorer=scorer,
            route=RouteParams.from_config(
                fleet, read_yaml(models_dir / "response_plans.yaml")),
            fleet=fleet,
            alerts=load_alert_rules(models_dir),
            surge=SurgeParams.from_config(read_yaml(models_dir / "surge.yaml")),
            thread=ThreadParams(follow_up_s=match_follow_up_s(models_dir)),
            places=Gazetteer.from_config(read_yaml(models_dir / "places.yaml"),
                                        models_dir),
            addresses=AddressBook.from_config(
                read_yaml(models_dir / "addresses.yaml"), models_dir,
                {name: source.box for name, source in sources.items()}),
            citizen=CitizenTemplates.from_config(
                read_yaml(models_dir / "citizen.yaml")),
            learned=LearnedScorer(
                scorer,
                ModelRule.from_config(read_yaml(models_dir / "score_model.yaml")),
                {name: source.zone for name, source in sources.items()}),
            relevance=RelevanceRule.from_config(
                read_yaml(models_dir / "relevance.yaml")),
            models_dir=models_dir,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"a rule table in {models_dir} is malformed: {exc!r}"
        ) from exc
