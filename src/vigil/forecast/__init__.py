"""vigil.forecast: forecasters with uncertainty, backtests, per-series champion models, capacity warnings.

    from vigil.forecast import create, fit_predict_many
    fc = create("profile").fit(y, season_length=24, ts=ts).predict(24, levels=(80, 95))
    fleet = fit_predict_many(Y, h=24, season_length=24)   # Y: (n_series, n_obs)
"""

from vigil.forecast.base import FleetForecast, Forecaster, SeasonLength
from vigil.forecast.registry import FLEET_DEFAULT, FORECASTERS, create, dump_state, fit_predict_many, load_state

__all__ = ["FLEET_DEFAULT", "FORECASTERS", "FleetForecast", "Forecaster", "SeasonLength", "create",
           "dump_state", "fit_predict_many", "load_state"]
