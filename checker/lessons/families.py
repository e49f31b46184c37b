"""The practice families, declared as data: which exercise each one varies, and the names of its sampler and
builder in checker.lessons.practice, which is imported only when a variant is first asked for (a lesson module
imports this small file, so that `from checker import lesson01` stays light).

    ex.dz_dx.practice(7)  ->  CHAIN_SIN_POWER.variant(7)  ->  practice._build_chain(practice._sample_chain(rng))
"""
from __future__ import annotations

import dataclasses
import importlib
import random
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Family:
    """Exercises like `exercise_id`, one per seed: `sample(rng) -> params`, `build(params) -> Exercise`, both
    functions of checker.lessons.practice named here. `build` receives the params with "seed" and "id" added,
    and declares the whole Exercise."""

    name: str
    exercise_id: str
    sample: str
    build: str

    def variant(self, seed: Optional[int] = None) -> Any:
        if seed is None:
            import secrets

            seed = secrets.randbelow(100_000)
        seed = int(seed)
        builders = importlib.import_module(f"{__package__}.practice")
        params = dict(getattr(builders, self.sample)(random.Random(f"{self.exercise_id}~{seed}")))
        params.update(seed=seed, id=f"{self.exercise_id}~{seed}")
        exercise = getattr(builders, self.build)(params)
        return dataclasses.replace(exercise, variants=self)  # a variant's own variants: this family


CHAIN_SIN_POWER = Family("chain-sin-power", "lesson01.dz_dx", "_sample_chain", "_build_chain")
PRODUCT_POWER_SIN = Family("product-power-sin", "lesson01.dg_dx", "_sample_product", "_build_product")
LEAF_POWER_COS = Family("leaf-power-cos", "lesson02.fix_leaf", "_sample_product", "_build_leaf")
VJP_SIN_POWER = Family("vjp-sin-power", "lesson02.vjp", "_sample_vjp", "_build_vjp")
EXP_COS_POWER = Family("exp-cos-power", "lesson03.df_dx", "_sample_three", "_build_three")
TWO_NEURONS_SIGMOID_TANH = Family("two-neurons-sigmoid-tanh", "lesson03.two_neurons_grad", "_sample_two_neurons",
                                  "_build_two_neurons")
SQUARED_ERROR_ONE_EXAMPLE = Family("squared-error-one-example", "lesson04.scalar_grads", "_sample_one_example",
                                   "_build_one_example")
BCE_POS_WEIGHT = Family("bce-pos-weight", "lesson04.dL_dz", "_sample_weighted", "_build_weighted")
LEAKY_RELU_SIGMOID = Family("leaky-relu-sigmoid", "lesson05.activation_backward", "_sample_leaky", "_build_leaky")
CE_TEMPERATURE = Family("ce-temperature", "lesson05.ce_grad", "_sample_temperature", "_build_temperature")

FAMILIES: tuple[Family, ...] = (
    CHAIN_SIN_POWER,
    PRODUCT_POWER_SIN,
    LEAF_POWER_COS,
    VJP_SIN_POWER,
    EXP_COS_POWER,
    TWO_NEURONS_SIGMOID_TANH,
    SQUARED_ERROR_ONE_EXAMPLE,
    BCE_POS_WEIGHT,
    LEAKY_RELU_SIGMOID,
    CE_TEMPERATURE,
)


def family_of(exercise_id: str) -> Optional[Family]:
    return next((f for f in FAMILIES if f.exercise_id == exercise_id), None)
