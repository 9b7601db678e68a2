import numpy as np
import pytest

from vigil.forecast.champion import MemoryStateStore, ModelRegistry

from .conftest import daily

DAY = 86_400.0


@pytest.fixture
def registry():
    return ModelRegistry(MemoryStateStore(), 24, horizon=24, windows=3, retrain_every=DAY)


def test_first_model_becomes_champion_and_is_persisted(registry):
    y = daily(10, noise=8.0, weekly=False)
    v = registry.propose("api:rps", "seasonal_naive", y, now=0.0)
    assert v.promoted and v.champion.kind == "seasonal_naive" and v.champion.version == 1
    fitted = registry.forecaster("api:rps")
    assert fitted is not None and fitted.predict(24).mean.shape == (24,)
    # a fresh registry over the same store sees the same state
    again = ModelRegistry(registry.store, 24, windows=3)
    assert again.champion("api:rps").kind == "seasonal_naive"


def test_challenger_replaces_only_when_better_and_rollback_is_one_call(registry):
    y = daily(10, noise=8.0, weekly=False)
    registry.propose("s", "seasonal_naive", y, now=0.0)
    better = registry.propose("s", "profile", y, now=1.0)
    assert better.promoted and "challenger profile" in better.reason
    worse = registry.propose("s", "seasonal_naive", y, now=2.0)
    assert not worse.promoted and registry.champion("s").kind == "profile"
    models = registry.models("s")
    assert [v.version for v in models.versions] == [1, 2, 3] and models.champions == [1, 2]
    assert registry.rollback("s").kind == "seasonal_naive"
    assert registry.champion("s").version == 1
    assert registry.rollback("s") is None  # nothing before the first champion
    assert registry.forecaster("s", version=2).kind == "profile"  # versions are kept


def test_refresh_of_the_same_kind_is_accepted_unless_much_worse(registry):
    y = daily(10, noise=4.0, weekly=False)
    registry.propose("s", "profile", y, now=0.0)
    assert registry.propose("s", "profile", y, now=1.0).promoted
    garbage = y.copy()
    garbage[-60:] = np.random.default_rng(1).uniform(0, 1000, 60)  # an outage-like mess
    v = registry.propose("s", "profile", garbage, now=2.0)
    assert not v.promoted and "refresh" in v.reason and registry.champion("s").version == 2


def test_retraining_on_schedule_and_on_drift(registry):
    y = daily(10, weekly=False)
    assert registry.due("s", 0.0) == "no model yet"
    registry.retrain("s", y, now=0.0)
    assert registry.champion("s").kind == "profile"
    assert registry.due("s", 100.0) is None
    registry.on_drift("s")
    assert registry.due("s", 100.0) == "drift signal"
    verdicts = registry.retrain("s", y, now=100.0, challengers=("seasonal_naive",))
    assert len(verdicts) == 2 and registry.due("s", 200.0) is None
    assert registry.due("s", 100.0 + DAY).startswith("schedule")
