"""Staff as Mesa agents: a readable view onto the arrays and the reference rules.

``StaffMember`` holds only its index; every property reads or writes the model's arrays
(``sim.state``), so the agent and the fast engine can never disagree about who is who.
``step`` and ``advance`` state the adoption rule for one person in plain Python, in the
same phases as ``sim.engine`` (candidates, exposure, decide, apply). This slow path is
the executable specification: tests run it against the Numba kernels from one seed and
require identical trajectories, step by step.
"""

from __future__ import annotations

import mesa

from sim import rng
from sim.dynamics import layout as L
from sim.dynamics.contagion import BASS, CASCADE, COUNT, THRESHOLD
from sim.org import LINE, PROFESSIONS
from sim.state import COMMITTED, COMPLYING, LAPSED, NOT_ADOPTED


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

    def __init__(self, model: mesa.Model, index: int) -> None:
        # ``model`` is a ``sim.model.ChangeModel``; the model imports the agents, never the reverse.
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
    def cell(self):
        """My cell in the model's Mesa network space (``ChangeModel.space``)."""
        return self.model.space[self.index]

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
        """w_ij = trust_ij * influence_j: how much contact j's example counts for me (trust
        is one value per undirected tie: ``model.pair[e]``).
        """
        st = self.model.state
        return float(st.trust[self.model.pair[e]] * st.influence[j])

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


class ChangeStaffMember(StaffMember):
    """A member of staff under the full psychology-of-change model (rule ``change``).

    Each method is one phase of ``sim.dynamics.change`` stated for one person; the model
    calls them for everyone, phase by phase, in the documented order. Equations and
    sources are in the kernel modules named in each docstring.
    """

    fit = _array_property("fit", "Fit of the change to my work.")
    motivation0 = _array_property("motivation0", "Baseline intrinsic motivation.")
    clinical_leader = _array_property("clinical_leader", "1 if a clinician in a senior post.")
    co_designer = _array_property("co_designer", "1 if in the co-design group.")

    def _par(self, slot: int) -> float:
        return float(self.model.par[slot])

    # Phase 1 (leadership.schedule)
    def feel_pressure(self) -> None:
        """Pressure is the mandate's strength while it applies to my organisation, else it fades."""
        m = self.model.cfg.mandate
        t = self.model.steps
        in_force = m.on and t >= m.start and (m.end < 0 or t < m.end)
        mine = m.scope == "all" or int(self.model.org.organisation[self.index]) == 0
        if in_force and mine:
            self.pressure = self._par(L.MANDATE_STRENGTH)
        else:
            self.pressure = self.pressure * (1.0 - self._par(L.PRESSURE_DECAY))

    # Phase 2 (leadership.churn)
    def churn(self) -> None:
        """If I hold a senior post, I may leave; my successor starts afresh."""
        p = self._par(L.P_CHURN)
        model = self.model
        if p <= 0.0 or model.senior[self.index] == 0:
            return
        t = model.steps
        if rng.uniform_py(model.keys[L.K_CHURN], t, self.index) >= p:
            return
        self.adoption = NOT_ADOPTED
        self.t_adopted = -1
        self.belief = self._par(L.NEWCOMER_BELIEF)
        self.motivation = self.motivation0
        appoint = rng.uniform_py(model.keys[L.K_PIPELINE], t, self.index) < self._par(
            L.P_CLINICAL_APPOINTMENT
        )
        self.clinical_leader = 1 if appoint else 0
        for _, e in self.contacts():
            model.state.trust[model.pair[e]] = self._par(L.TRUST_NEW)

    # Phase 3 (adoption.decide, with power, motivation and relationships)
    def readiness(self) -> float:
        """R = clip((motivation + belief) / 2 + fit, 0, 1)."""
        r = (self.motivation + self.belief) / 2.0 + self.fit
        return min(max(float(r), 0.0), 1.0)

    def agency(self) -> float:
        """Power * courage, power = authority (centralised) or at least empowerment."""
        mode = self.model.cfg.power.mode
        if mode == "none":
            return 1.0
        power = self.authority
        if mode == "distributed" and self._par(L.EMPOWERMENT) > power:
            power = self._par(L.EMPOWERMENT)
        return power * self.courage

    def may_act(self) -> bool:
        """My decision right: by level (centralised) or agency (distributed), or my manager has adopted."""
        pw = self.model.cfg.power
        if pw.mode == "none":
            return True
        if pw.mode == "centralised":
            if self.level <= pw.decision_level:
                return True
        elif self.agency() >= pw.agency_min:
            return True
        manager = self.manager
        return manager is None or manager.adopted

    def example_weight(self, state: int) -> float:
        """How much a contact's example counts by their state: committed 1, complying less."""
        if state == COMMITTED:
            return 1.0
        if state == COMPLYING:
            return self._par(L.COMPLIANCE_VISIBILITY)
        return 0.0

    def change_exposure(self) -> float:
        """Trust-, authority- and credibility-weighted share of my contacts' example."""
        st = self.model.state
        clinician = self.model.clinician[self.index] == 1
        num = 0.0
        den = 0.0
        for j, e in self.contacts():
            w = st.trust[self.model.pair[e]] * st.influence[j]
            if st.clinical_leader[j] == 1 and clinician:
                w = w * self._par(L.CLINICAL_CREDIBILITY)
            den += w
            num += w * self.example_weight(int(st.state[j]))
        if self.model.threshold_kind == COUNT:
            return num
        return num / den if den > 0.0 else 0.0

    def decide(self) -> None:
        """Choose my next state from everyone's state at the start of the step."""
        model = self.model
        t = model.steps
        s = int(self.adoption)
        ok = self.may_act()
        self._allowed = ok
        nxt = s
        r = self.readiness()
        rw = self._par(L.READINESS_WEIGHT)
        if s in (NOT_ADOPTED, LAPSED):
            h = 0.0
            p_own = 0.0
            if ok:
                theta = self.threshold + rw * (0.5 - r)
                h = 1.0 if self.change_exposure() >= theta else 0.0
                initiative = max(1.0 + rw * (2.0 * r - 1.0), 0.0)
                if self.model.cfg.power.mode != "none":
                    initiative = self.agency() / self._par(L.AGENCY_REF) * initiative
                p_own = self._par(L.P_SPONTANEOUS) * initiative
            prob = 1.0 - (1.0 - p_own) * (1.0 - h)
            if prob >= 1.0 or (prob > 0.0 and rng.uniform_py(model.keys[L.K_ADOPT], t, self.index) < prob):
                nxt = COMMITTED
            elif self.pressure > 0.0 and self._par(L.P_COMPLY) > 0.0:
                if (
                    rng.uniform_py(model.keys[L.K_LAPSE], t, self.index)
                    < self._par(L.P_COMPLY) * self.pressure
                ):
                    nxt = COMMITTED if self.co_designer == 1 else COMPLYING
        elif s == COMPLYING:
            p_int = self._par(L.P_INTERNALISE)
            p_lapse = self._par(L.P_LAPSE)
            if ok and p_int > 0.0 and rng.uniform_py(model.keys[L.K_ADOPT], t, self.index) < p_int * r:
                nxt = COMMITTED
            elif p_lapse > 0.0 and rng.uniform_py(model.keys[L.K_LAPSE], t, self.index) < p_lapse * (
                1.0 - self.pressure
            ):
                nxt = LAPSED
        elif s == COMMITTED:
            p_ab = self._par(L.P_ABANDON)
            if p_ab > 0.0 and rng.uniform_py(model.keys[L.K_LAPSE], t, self.index) < p_ab * (1.0 - r):
                nxt = LAPSED
        self._next = nxt

    # Phase 4 (adoption.apply)
    def apply(self) -> None:
        """My decision takes effect (everyone's together)."""
        s, nxt = int(self.adoption), self._next
        if nxt != s:
            if s in (NOT_ADOPTED, LAPSED) and nxt in (COMPLYING, COMMITTED):
                self.t_adopted = self.model.steps
            self.adoption = nxt

    # Phase 5 (adaptation.test_cycles)
    def test_change(self) -> None:
        """If I use the change and may act, I may test it (PDSA) and learn from the result."""
        p = self._par(L.P_TEST)
        if p <= 0.0 or not self.adopted or not self._allowed:
            return
        model = self.model
        t = model.steps
        u = rng.uniform_py(model.keys[L.K_TEST], t, self.index)
        if u >= p:
            return
        # The same draw decides whether patients and carers take part (a share of tests).
        partnered = u < p * self._par(L.PATIENT_PARTNERSHIP)
        quality = self._par(L.CHANGE_QUALITY)
        complexity = self._par(L.COMPLEXITY)
        # An unadapted complex change fails more often; fit counts (1 + complexity) times.
        chance = min(max(quality + self.fit - complexity * (1.0 - self.fit), 0.0), 1.0)
        y = 1.0 if rng.uniform_py(model.keys[L.K_OUTCOME], t, self.index) < chance else 0.0
        lr = self._par(L.LEARNING_RATE)
        self.belief = self.belief + lr * (y - self.belief)
        # Rework aims at the fit at which the change always works here.
        target = (1.0 - quality + complexity) / (1.0 + complexity)
        if y == 1.0:
            self.motivation = self.motivation + self._par(L.SUCCESS_BOOST) * (1.0 - self.motivation)
            if partnered:
                # Patients and carers see what a success by staff measures still misses.
                self.fit = self.fit + self._par(L.ADAPT_RATE) * max(target - self.fit, 0.0)
        else:
            self.motivation = (
                self.motivation - self._par(L.FAILURE_COST) * (1.0 - self.courage) * self.motivation
            )
            if self._par(L.ADAPT) > 0.0 or partnered:
                self.fit = self.fit + self._par(L.ADAPT_RATE) * max(target - self.fit, 0.0)
            blame, gain = self._par(L.BLAME), self._par(L.SAFETY_GAIN)
            if blame > 0.0 or gain > 0.0:
                # Leaders meet the failure with learning (f) or blame (1 - f).
                f, c = self._par(L.FAILURE_RESPONSE), self.courage
                self.courage = min(max(c + gain * f * (1.0 - c) - blame * (1.0 - f) * c, 0.0), 1.0)
        seen = lr * self._par(L.PERSUASION)
        if seen > 0.0:
            # My colleagues see the result and move towards it, as far as they trust me.
            st = model.state
            for j, e in self.contacts():
                st.belief[j] = st.belief[j] + seen * st.trust[model.pair[e]] * (y - st.belief[j])

    # Phase 6 (motivation.update_motivation)
    def update_motivation(self) -> None:
        """Pressure crowds my motivation out; it recovers slowly; recognition raises it."""
        crowd, rec, recog = self._par(L.CROWDING), self._par(L.RECOVERY), self._par(L.RECOGNITION)
        if crowd == 0.0 and rec == 0.0 and recog == 0.0:
            return
        m, x = self.motivation, self.pressure
        m = m - crowd * x * m
        if m < self.motivation0:
            m = m + rec * (1.0 - x) * (self.motivation0 - m)
        if self.adopted:
            m = m + recog * (1.0 - m)
        self.motivation = min(max(m, 0.0), 1.0)

    # Phase 7 (relationships.update_trust)
    def update_trust(self) -> None:
        """Trust between me and each contact grows with joint work and erodes under
        directives. Trust is one value per undirected tie, shared by both of us, so of the
        two people on a tie the lower-numbered one updates it (once a step).
        """
        grow, erode = self._par(L.TRUST_GROWTH), self._par(L.TRUST_EROSION)
        if grow == 0.0 and erode == 0.0:
            return
        st = self.model.state
        kinds, pair = self.model.org.tie_kind, self.model.pair
        for j, e in self.contacts():
            if j < self.index:
                continue
            tau = st.trust[pair[e]]
            if st.state[self.index] == COMMITTED or st.state[j] == COMMITTED:
                tau = tau + grow * (1.0 - tau)
            if kinds[e] == LINE:
                tau = tau - erode * ((st.pressure[self.index] + st.pressure[j]) / 2.0) * tau
            st.trust[pair[e]] = tau

    # Phase 8 (power.update_courage)
    def update_courage(self) -> None:
        """Directives erode my courage (psychological safety) in proportion to the pressure."""
        k = self._par(L.COURAGE_EROSION)
        if k == 0.0 or self.pressure <= 0.0:
            return
        self.courage = min(max(self.courage - k * self.pressure * self.courage, 0.0), 1.0)


CHANGE_PHASES = (
    "feel_pressure",
    "churn",
    "decide",
    "apply",
    "test_change",
    "update_motivation",
    "update_trust",
    "update_courage",
)
"""The phases of a step of the full model, in order (``sim.dynamics.change``)."""
