"""How a tuning job chooses hyperparameters: the search space of its ``ParameterRanges`` and the
``Random``, ``Grid`` and ``Bayesian`` strategies over it.

Values go to training jobs as the service sends them: integers as ``"7"``, continuous values as
Python's shortest ``repr`` of the float, categorical values as given.

``ScalingType`` ``Auto``: the service "chooses the best scale for the hyperparameter" without saying
how; its guidance ("Define Hyperparameter Ranges", docs.aws.amazon.com/sagemaker/latest/dg/
automatic-model-tuning-define-ranges.html) is to search logarithmically a range that spans several
orders of magnitude, and reverse-logarithmically one very close to 1.  localcloud's rule, applied
when the tuning job is created (:func:`auto_scaling`): ``Logarithmic`` if ``0 < MinValue`` and
``MaxValue / MinValue >= 100`` (two orders of magnitude or more, e.g. a learning rate from 0.0001 to
1); else, for a continuous range, ``ReverseLogarithmic`` if ``0 <= MinValue < MaxValue < 1`` and
``(1 - MinValue) / (1 - MaxValue) >= 100`` (e.g. a momentum from 0.9 to 0.9999); else ``Linear``.

``Bayesian`` is
Optuna's tree-structured Parzen estimator (TPE): it starts with random configurations and then models
the objective from the finished jobs; with several jobs in parallel it treats those still running as
"constant liars" so that it does not propose the same region twice.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_TUNABLE_PARAMETERS = 30
MAX_GRID_COMBINATIONS = 10_000


class InvalidRanges(ValueError):
    """The ranges cannot be searched; the message says why, in the service's terms."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # "Integer", "Continuous" or "Categorical"
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"
    values: tuple[str, ...] = ()

    def format(self, value: Any) -> str:
        if self.kind == "Integer":
            return str(int(value))
        if self.kind == "Continuous":
            return repr(float(value))
        return str(value)

    def contains(self, text: str) -> bool:
        """Whether a value sent to a training job lies in this range (the tests' and users' check)."""
        if self.kind == "Categorical":
            return text in self.values
        return self.low <= float(text) <= self.high


def _number(range_: dict, key: str, kind: str) -> float:
    text = range_[key]
    try:
        value = float(text)
        if kind == "Integer" and not value.is_integer():
            raise ValueError
    except ValueError:
        expected = "an integer" if kind == "Integer" else "a number"
        raise InvalidRanges(f"The {key} '{text}' of the {kind.lower()} parameter range {range_['Name']} is not "
                            f"{expected}.") from None
    return value


AUTO_LOG_RATIO = 100.0


def auto_scaling(kind: str, low: float, high: float) -> str:
    """The scale ``ScalingType: Auto`` searches a range on (the rule in the module's docstring)."""
    if low > 0 and high / low >= AUTO_LOG_RATIO:
        return "Logarithmic"
    if kind == "Continuous" and 0 <= low < high < 1 and (1 - low) / (1 - high) >= AUTO_LOG_RATIO:
        return "ReverseLogarithmic"
    return "Linear"


def parameter_space(ranges: dict[str, list[dict]]) -> list[Parameter]:
    """The parameters of ``ParameterRanges``, checked as the service checks them."""
    space: list[Parameter] = []
    for kind in ("Integer", "Continuous"):
        for range_ in ranges.get(f"{kind}ParameterRanges", []):
            low, high = _number(range_, "MinValue", kind), _number(range_, "MaxValue", kind)
            scaling = range_.get("ScalingType", "Auto")
            if low > high:
                raise InvalidRanges(f"The MinValue ({range_['MinValue']}) of parameter range {range_['Name']} must be "
                                    f"less than or equal to its MaxValue ({range_['MaxValue']}).")
            if scaling == "Logarithmic" and low <= 0:
                raise InvalidRanges(f"Logarithmic scaling of parameter range {range_['Name']} needs a MinValue greater "
                                    f"than 0; got {range_['MinValue']}.")
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or not 0 <= low < high < 1):
                raise InvalidRanges(f"ReverseLogarithmic scaling of parameter range {range_['Name']} is valid only for "
                                    "continuous ranges with 0 <= MinValue < MaxValue < 1.")
            space.append(Parameter(range_["Name"], kind, low, high,
                                   auto_scaling(kind, low, high) if scaling == "Auto" else scaling))
    for range_ in ranges.get("CategoricalParameterRanges", []):
        values = tuple(range_["Values"])
        if len(set(values)) != len(values):
            raise InvalidRanges(f"The categorical parameter range {range_['Name']} lists a value more than once.")
        space.append(Parameter(range_["Name"], "Categorical", values=values))
    names = [p.name for p in space]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidRanges(f"Hyperparameter(s) {duplicates} have more than one parameter range.")
    if not space:
        raise InvalidRanges("ParameterRanges must hold at least one integer, continuous or categorical range.")
    if len(space) > MAX_TUNABLE_PARAMETERS:
        raise InvalidRanges(f"A tuning job can tune at most {MAX_TUNABLE_PARAMETERS} hyperparameters; "
                            f"got {len(space)}.")
    return space


class RandomSearch:
    """Each configuration drawn independently, on each range's scale; ``seed`` makes the sequence repeatable."""

    def __init__(self, space: list[Parameter], seed: int | None):
        self.space = space
        self.random = np.random.default_rng(seed)

    def has_next(self) -> bool:
        return True

    def ask(self) -> tuple[dict[str, str], Any]:
        return {p.name: p.format(self._draw(p)) for p in self.space}, None

    def tell(self, token: Any, value: float | None) -> None:
        """Random search learns nothing from results."""

    def _draw(self, parameter: Parameter) -> Any:
        if parameter.kind == "Categorical":
            return parameter.values[self.random.integers(len(parameter.values))]
        low, high = parameter.low, parameter.high
        if parameter.kind == "Integer":
            if parameter.scaling == "Logarithmic":
                # Uniform in log space over [low, high + 1) then floored, so every integer can come up.
                return min(int(math.exp(self.random.uniform(math.log(low), math.log(high + 1)))), int(high))
            return int(self.random.integers(int(low), int(high) + 1))
        if parameter.scaling == "Logarithmic":
            return math.exp(self.random.uniform(math.log(low), math.log(high)))
        if parameter.scaling == "ReverseLogarithmic":
            return 1.0 - math.exp(self.random.uniform(math.log(1.0 - high), math.log(1.0 - low)))
        return self.random.uniform(low, high)


class GridSearch:
    """Every combination of the categorical values, in order (the first range varies slowest)."""

    def __init__(self, space: list[Parameter]):
        not_categorical = [p.name for p in space if p.kind != "Categorical"]
        if not_categorical:
            raise InvalidRanges("The Grid strategy searches categorical parameter ranges only; "
                                f"{not_categorical} are integer or continuous ranges.")
        self.space = space
        self.size = math.prod(len(p.values) for p in space)
        if self.size > MAX_GRID_COMBINATIONS:
            raise InvalidRanges(f"The Grid strategy's ranges make {self.size} combinations; the limit is "
                                f"{MAX_GRID_COMBINATIONS}.")
        self._combinations = itertools.product(*(p.values for p in space))
        self._left = self.size

    def has_next(self) -> bool:
        return self._left > 0

    def ask(self) -> tuple[dict[str, str], Any]:
        self._left -= 1
        return dict(zip((p.name for p in self.space), next(self._combinations), strict=True)), None

    def tell(self, token: Any, value: float | None) -> None:
        """Grid search learns nothing from results."""


class BayesianSearch:
    """Optuna's TPE sampler: ``startup`` random configurations, then proposals from the results so far."""

    def __init__(self, space: list[Parameter], seed: int | None, direction: str, max_jobs: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self._optuna = optuna
        # Optuna's default of 10 random starts would make a small tuning job a random search.
        startup = max(2, min(10, max_jobs // 3))
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True,
                                             constant_liar=True)
        self.study = optuna.create_study(direction="maximize" if direction == "Maximize" else "minimize",
                                         sampler=sampler)
        self.distributions = {p.name: self._distribution(p) for p in space}

    def _distribution(self, parameter: Parameter):
        distributions = self._optuna.distributions
        if parameter.kind == "Categorical":
            return distributions.CategoricalDistribution(parameter.values)
        if parameter.kind == "Integer":
            return distributions.IntDistribution(int(parameter.low), int(parameter.high),
                                                 log=parameter.scaling == "Logarithmic")
        if parameter.scaling == "ReverseLogarithmic":
            # Searched as 1 - value on a log scale, which is what reverse-logarithmic scaling means.
            return distributions.FloatDistribution(1.0 - parameter.high, 1.0 - parameter.low, log=True)
        return distributions.FloatDistribution(parameter.low, parameter.high, log=parameter.scaling == "Logarithmic")

    def has_next(self) -> bool:
        return True

    def ask(self) -> tuple[dict[str, str], Any]:
        trial = self.study.ask(self.distributions)
        values = {}
        for parameter in self.space:
            value = trial.params[parameter.name]
            if parameter.scaling == "ReverseLogarithmic":
                value = 1.0 - value
            values[parameter.name] = parameter.format(value)
        return values, trial

    def tell(self, token: Any, value: float | None) -> None:
        state = self._optuna.trial.TrialState
        if value is None or math.isnan(value):
            self.study.tell(token, state=state.FAIL)
        else:
            self.study.tell(token, value)


def strategy_for(config: dict, space: list[Parameter], direction: str, max_jobs: int):
    """The search of a ``HyperParameterTuningJobConfig``."""
    seed = config.get("RandomSeed")
    name = config["Strategy"]
    if name == "Random":
        return RandomSearch(space, seed)
    if name == "Grid":
        return GridSearch(space)
    if name == "Bayesian":
        return BayesianSearch(space, seed, direction, max_jobs)
    raise InvalidRanges(f"Strategy {name} is not supported by localcloud; use Bayesian, Random or Grid.")
