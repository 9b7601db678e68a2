import numpy as np
import pytest

HOUR = 3600.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86_400)  # a midnight, so hours of day are easy to read


def daily(days: int, seed: int = 0, noise: float = 3.0, trend: float = 0.0, weekly: bool = True) -> np.ndarray:
    """Hourly series with a daily cycle, a weekday effect and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 24)
    weekday = np.where(((t // 24) % 7 >= 5) & weekly, 0.8, 1.0)
    return (100 + 40 * np.sin(2 * np.pi * t / 24)) * weekday + trend * t + rng.normal(0, noise, len(t))


@pytest.fixture
def ten_days() -> np.ndarray:
    return daily(10)


@pytest.fixture
def hours() -> np.ndarray:
    return T0 + HOUR * np.arange(10 * 24)
