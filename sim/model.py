"""``ChangeModel``: the Mesa model that owns the organisation, the state and the seed.

``model.step()`` advances one step with the Numba kernel (``engine="kernel"``, the
default) or by asking every ``StaffMember`` to ``step`` and then ``advance``
(``engine="agents"``, the readable reference). Both record the same counts, and a Mesa
``DataCollector`` keeps the headline series. For many steps or many replicates without
Mesa objects, use ``sim.run`` / ``sim.run_batch``.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from sim import rng
from sim.agents import CHANGE_PHASES, ChangeStaffMember, StaffMember
from sim.constants import COMMITTED, COMPLYING
from sim.dynamics import change, layout
from sim.dynamics.contagion import RULES, THRESHOLD_KINDS, rule_of
from sim.engine import kernel_step, weights
from sim.io import build
from sim.metrics import group_matrix
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig, from_dict
from sim.state import N_STATES, frontier, initial_state, n_pairs, org_arrays, scratch

ENGINES = ("kernel", "agents")


def organisation_for(cfg: ModelConfig) -> Organisation:
    """The organisation a configuration describes (structure seed: ``cfg.org_seed``, or 0)."""
    return build(cfg.org, seed=cfg.org_seed if cfg.org_seed >= 0 else 0)


class ChangeModel(mesa.Model):
    """How a change spreads through one organisation, for one seed.

    Args:
        config: a ``ModelConfig`` or nested dict of its fields (defaults otherwise).
        org: an ``Organisation`` to use instead of building ``config.org``.
        seed: the replicate's seed (defaults to ``config.seed``).
        engine: ``"kernel"`` (Numba) or ``"agents"`` (StaffMember.step/advance).
        thresholds: (n,) explicit thresholds.
        initial_adopters: explicit initial adopters (indices or bool mask).
        by_group: record counts by level, profession and organisation too.
        overrides: dotted-key overrides, e.g. ``{"org.n_staff": 200}``.
    """

    def __init__(
        self,
        config: ModelConfig | dict[str, Any] | None = None,
        *,
        org: Organisation | None = None,
        seed: int | None = None,
        engine: str = "kernel",
        thresholds: np.ndarray | None = None,
        initial_adopters: np.ndarray | None = None,
        by_group: bool = True,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        cfg = from_dict(config, **(overrides or {}))
        if engine not in ENGINES:
            raise ConfigError(f"engine={engine!r} is not one of {list(ENGINES)}")
        if seed is not None:
            from sim.validate import check_seeds

            seed = int(check_seeds([seed])[0])
        seed = cfg.seed if seed is None else seed
        super().__init__(seed=seed)
        self.cfg = cfg
        self.seed = seed
        self.engine = engine
        self.org = organisation_for(cfg) if org is None else org
        self.state = initial_state(self.org, cfg, seed, thresholds, initial_adopters)
        self.weight = weights(self.org, self.state)
        self.key_adopt = rng.key_py(seed, rng.ADOPT)
        self.full_model = cfg.dynamics.rule == "change"
        self.rule = RULES.get(cfg.dynamics.rule, -1)
        self.par = layout.pack(cfg)
        self._keys = layout.stream_keys(np.array([seed]))[0]
        self.keys = [int(k) for k in self._keys]
        self.arrays = org_arrays(self.org)
        self.pair, self.clinician, self.senior = (
            self.arrays.pair,
            self.arrays.clinician,
            self.arrays.senior,
        )
        self._scratch = scratch(self.org.n_staff, n_pairs=n_pairs(self.org))
        self.threshold_kind = THRESHOLD_KINDS[cfg.dynamics.threshold_kind]
        self._rule = rule_of(cfg.dynamics) if not self.full_model else None
        self.groups, self.group_labels = group_matrix(self.org, by_group)
        self._n_groups = len(self.group_labels)
        self._front = frontier(self.org.n_staff)
        self._staff: list[StaffMember] | None = None
        self._space: mesa.discrete_space.Network | None = None
        if engine == "agents":
            _ = self.staff
        self._counts = [self._count()]
        self._extra = [self._means()]
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "frac_adopted": lambda m: float(m.state.adopted().mean()),
                "frac_committed": lambda m: float((m.state.state == COMMITTED).mean()),
                "frac_complying": lambda m: float((m.state.state == COMPLYING).mean()),
                "mean_motivation": lambda m: float(m.state.motivation.mean()),
            }
        )
        self.datacollector.collect(self)

    @property
    def staff(self) -> list[StaffMember]:
        """The Mesa agents, one per person (created on first use: at a million staff they
        cost far more than the simulation itself).
        """
        if self._staff is None:
            cls = ChangeStaffMember if self.full_model else StaffMember
            self._staff = [cls(self, i) for i in range(self.org.n_staff)]
        return self._staff

    @property
    def space(self) -> mesa.discrete_space.Network:
        """The organisation as a Mesa network space (built on first use, no layout computed).

        Cell i holds staff member i; Mesa's drawing helpers default to an unseeded O(n^2)
        spring layout, so draw hierarchies with ``sim.views.figures`` instead.
        """
        if self._space is None:
            self._space = mesa.discrete_space.Network(self.org.to_networkx(), random=self.random)
        return self._space

    def step(self) -> None:
        """Advance one step (``self.steps`` is the step being computed)."""
        t = self.steps
        if self.full_model and self.engine == "kernel":
            change.change_step(t, self.par, self._keys, self.arrays, self.state.people(), self._scratch)
        elif self.full_model:
            for phase in CHANGE_PHASES:
                self.agents.do(phase)
        elif self.engine == "kernel":
            kernel_step(t, self.org.indptr, self.org.indices, self.weight, self.state.people(), self._rule,
                        np.uint64(self.key_adopt), self._front, 0, False, 0)  # fmt: skip
        else:
            self.agents.do("step")
            self.agents.do("advance")
        self._counts.append(self._count())
        self._extra.append(self._means())
        self.datacollector.collect(self)

    def _count(self) -> np.ndarray:
        g, s = self._n_groups, N_STATES
        out = np.zeros(g * s, dtype=np.int64)
        code = self.state.state.astype(np.int64)
        for d in range(self.groups.shape[1]):
            out += np.bincount(self.groups[:, d] * s + code, minlength=g * s)
        return out.reshape(g, s).astype(np.int32)

    def _means(self) -> np.ndarray:
        out = np.empty(3)
        change.state_means(self.state.motivation, self.state.belief, self.state.trust, out)
        return out

    @property
    def means(self) -> np.ndarray:
        """(steps+1, 3) mean motivation, belief and trust after each step so far."""
        return np.stack(self._extra)

    @property
    def counts(self) -> np.ndarray:
        """(steps+1, G, 4) counts by group and adoption state so far."""
        return np.stack(self._counts)
