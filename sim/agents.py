"""Staff as Mesa agents: a readable view onto the arrays and the reference rules.

``StaffMember`` holds only its index; every property reads or writes the model's arrays
(``sim.state``), so the agent and the fast engine can never disagree about who is who.
``step`` and ``advance`` state the adoption rule for one person in plain Python, in the
same phases as ``sim.engine`` (candidates, exposure, decide, apply). This slow path is
the executable specification: tests run it against the Numba kernels from one seed and
require identical trajectories, step by step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim import rng
from sim.dynamics.contagion import BASS, CASCADE, COUNT, THRESHOLD
from sim.org import PROFESSIONS
from sim.state import COMMITTED, COMPLYING

if TYPE_CHECKING:
    from sim.model import ChangeModel


def _array_property(name: str, doc: str) -> property:
    def get(self: StaffMember):
        return getattr(self.model.state, name)[self.index]

    def set_(self: StaffMember, value) -> None:
        getattr(self.model.state, name)[self.index] = value

    return property(get, set_, doc=doc)


class StaffMember(mesa.Agent):
    """One member of staff: a view onto row ``index`` of the model's state arrays."""

    authority = _array_property("authority", "Formal authority in [0, 1].")
    influence = _array_property("influence", "authority ** power_gradient.")
    motivation = _array_property("motivation", "Intrinsic motivation in [0, 1].")
    pressure = _array_property("pressure", "Extrinsic pressure in [0, 1].")
    courage = _array_property("courage", "Courage (team psychological safety) in [0, 1].")
    threshold = _array_property("threshold", "Adoption threshold.")
    belief = _array_property("belief", "Belief that the change is an improvement.")
    adoption = _array_property("state", "Adoption state code (sim.state.STATE_NAMES).")
    t_adopted = _array_property("t_adopted", "Step of the latest adoption, -1 if never.")

    def __init__(self, model: ChangeModel, index: int) -> None:
        super().__init__(model)
        self.index = index
        self._adopt_next = False

    # --- what the organisation says about this person -------------------------------
    @property
    def level(self) -> int:
        """Depth in the line hierarchy (0 = top)."""
        return int(self.model.org.level[self.index])

    @property
    def profession(self) -> str:
        """Profession name."""
        return PROFESSIONS[int(self.model.org.profession[self.index])]

    @property
    def manager(self) -> StaffMember | None:
        """Line manager, or None at the top."""
        m = int(self.model.org.manager[self.index])
        return self.model.staff[m] if m >= 0 else None

    @property
    def adopted(self) -> bool:
        """Complying or committed."""
        return self.adoption in (COMPLYING, COMMITTED)

    def contacts(self) -> list[tuple[int, int]]:
        """(contact index, stored-tie index) pairs, in CSR order."""
        org = self.model.org
        start, stop = int(org.indptr[self.index]), int(org.indptr[self.index + 1])
        return [(int(org.indices[e]), e) for e in range(start, stop)]

    # --- the rule ------------------------------------------------------------------
    def tie_weight(self, e: int, j: int) -> float:
        """w_ij = trust_ij * influence_j: how much contact j's example counts for me."""
        st = self.model.state
        return float(st.trust[e] * st.influence[j])

    def exposure(self) -> float:
        """Share (or weighted count) of my contacts' say that comes from adopters."""
        st = self.model.state
        num = 0.0
        den = 0.0
        for j, e in self.contacts():
            w = self.tie_weight(e, j)
            den += w
            if st.state[j] in (COMPLYING, COMMITTED):
                num += w
        if self.model.threshold_kind == COUNT:
            return num
        return num / den if den > 0.0 else 0.0

    def cascade_hazard(self, t: int) -> float:
        """Chance that contacts who adopted last step convert me (one try each)."""
        st = self.model.state
        p = self.model.cfg.dynamics.p_transmit
        keep = 1.0
        for j, e in self.contacts():
            if st.t_adopted[j] == t - 1 and st.state[j] in (COMPLYING, COMMITTED):
                keep *= 1.0 - p * self.tie_weight(e, j)
        return 1.0 - keep

    def step(self) -> None:
        """Decide, on everyone's state at the start of the step, whether I adopt now."""
        self._adopt_next = False
        if self.adopted:
            return
        model = self.model
        t = model.steps
        dyn = model.cfg.dynamics
        if model.rule == CASCADE:
            h = self.cascade_hazard(t)
        elif model.rule == THRESHOLD:
            h = 1.0 if self.exposure() >= self.threshold else 0.0
        else:
            assert model.rule == BASS
            h = dyn.q_imitation * self.exposure()
        prob = 1.0 - (1.0 - dyn.p_spontaneous) * (1.0 - h)
        if prob >= 1.0:
            self._adopt_next = True
        elif prob > 0.0:
            self._adopt_next = rng.uniform_py(model.key_adopt, t, self.index) < prob

    def advance(self) -> None:
        """Apply my decision (all staff switch together: a synchronous update)."""
        if self._adopt_next:
            self.adoption = COMMITTED
            self.t_adopted = self.model.steps
            self._adopt_next = False
