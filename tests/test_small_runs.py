"""What keeps a small run free of fixed costs does not change what a run returns.

``from_dict`` keeps validated copies of configurations by content and knows a
configuration object passed again, unchanged since, by its identity (``sim.params.shared``),
``run`` reuses the ``Runner`` of an earlier run of an equal configuration on the same
organisation and hands each result a copy of the kept configuration when it is read, a
``Runner`` keeps its buffers and initial-state inputs between calls, and an organisation
keeps what is derived from it (``Organisation.derived``). These tests fail when a cached
value outlives a change of what it was computed from, when a caller's change to a result
reaches a later run, or when a refusal or a warning is lost.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sim import from_dict, run, run_batch
from sim.batch import Runner
from sim.model import organisation_for
from sim.params import ConfigError, ConfigWarning

SMALL = {"org": {"n_staff": 60}, "n_steps": 20, "dynamics": {"rule": "change", "p_spontaneous": 0.02}}


def _same(a, b) -> bool:
    return (
        np.array_equal(a.counts, b.counts)
        and np.array_equal(a.t_adopted, b.t_adopted)
        and all(np.array_equal(a.extra[k], b.extra[k]) for k in a.extra)
    )


def test_a_validated_configuration_is_a_fresh_copy_and_is_checked_again_when_changed() -> None:
    cfg = from_dict({"org": {"kind": "ics", "n_staff": 120}})
    a, b = from_dict(cfg), from_dict(cfg)
    assert a == cfg and b == cfg, "the copy equals the configuration"
    assert a is not b and a.dynamics is not b.dynamics and a.org.partner_kinds is not b.org.partner_kinds
    a.dynamics.p_spontaneous = 0.5
    assert from_dict(cfg).dynamics.p_spontaneous == cfg.dynamics.p_spontaneous, "a copy's change stays there"
    cfg.dynamics.p_spontaneous = 0  # an int where a float is declared: coerced, as before
    assert type(from_dict(cfg).dynamics.p_spontaneous) is float
    cfg.dynamics.p_spontaneous = 2.0
    with pytest.raises(ConfigError, match="dynamics.p_spontaneous"):
        from_dict(cfg)
    cfg.dynamics.p_spontaneous = 0.01
    cfg.seeding.n_seeds = True  # equal to 1, but not an integer
    with pytest.raises(ConfigError, match="seeding.n_seeds"):
        from_dict(cfg)


def test_a_configuration_that_warns_warns_every_time() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = from_dict({"dynamics": {"rule": "bass"}, "mandate": {"on": True}})
    for _ in range(2):
        with pytest.warns(ConfigWarning, match="mandate.on"):
            from_dict(cfg)


def test_repeated_runs_equal_a_fresh_runner_and_ignore_changes_to_results() -> None:
    cfg = from_dict(SMALL)
    org = organisation_for(cfg)
    first = run(cfg, org=org, seed=3)
    first.config.dynamics.p_spontaneous = 0.3  # the caller changes a result's configuration
    first.config.n_steps = 5
    again = run(cfg, org=org, seed=3)
    assert again.config == cfg and again.counts.shape[1] == 21, "a result's change reaches no later run"
    fresh = Runner(cfg, org, by_group=True).run(np.array([3]))
    assert _same(again, fresh) and _same(first, fresh), "a reused runner gives the fresh runner's run"
    other = run(cfg, org=org, seed=4)
    assert not np.array_equal(other.t_adopted, again.t_adopted), "another seed, another run"
    assert not np.shares_memory(other.final_state, again.final_state), "each result owns its arrays"
    changed = run(SMALL | {"dynamics": {"rule": "change", "p_spontaneous": 0.2}}, org=org, seed=3)
    assert not _same(changed, again), "a changed configuration is not served the old runner"


def test_an_organisation_whose_array_is_replaced_is_not_served_its_old_runner() -> None:
    """Replacing an array of the organisation (here every tie made a peer tie, which sets
    other starting trust) between two runs must reach the second run, as it does on a
    new organisation object with that array."""
    from dataclasses import replace

    from sim.org import TIE_KINDS

    cfg = from_dict(SMALL | {"people": {"trust_line": 0.9, "trust_team": 0.9, "trust_peer": 0.1}})
    org = organisation_for(cfg)
    before = run(cfg, org=org, seed=3)
    org.tie_kind = np.full_like(org.tie_kind, TIE_KINDS.index("peer"))
    after = run(cfg, org=org, seed=3)
    fresh = run(cfg, org=replace(org), seed=3)
    assert not _same(before, fresh), "the replaced array changes the run"
    assert _same(after, fresh), "a runner built before the replacement was reused"


def test_a_runner_called_again_and_in_chunks_gives_the_same_runs() -> None:
    cfg = from_dict(SMALL)
    runner = Runner(cfg)
    seeds = np.arange(150)  # past the size where chunks are drawn in place
    whole = runner.run(seeds)
    ones = [runner.run(seeds[k : k + 1]) for k in (0, 77, 149)]
    again = runner.run(seeds)
    assert np.array_equal(whole.counts, again.counts) and np.array_equal(whole.t_adopted, again.t_adopted)
    for k, one in zip((0, 77, 149), ones, strict=True):
        assert np.array_equal(one.counts[0], whole.counts[k]), f"run {k} alone equals run {k} of the batch"
        assert np.array_equal(one.t_adopted[0], whole.t_adopted[k])


def test_derived_arrays_are_rebuilt_when_an_organisation_array_is_replaced() -> None:
    org = organisation_for(from_dict(SMALL))
    calls = []
    org.derived("probe", lambda: calls.append(1) or org.level.sum())
    assert org.derived("probe", lambda: calls.append(1) or org.level.sum()) == org.level.sum()
    assert len(calls) == 1, "computed once"
    org.level = org.level.copy()
    org.derived("probe", lambda: calls.append(1) or org.level.sum())
    assert len(calls) == 2, "rebuilt after an array is replaced"


def test_a_configuration_object_validates_as_its_dict_does() -> None:
    import dataclasses

    board = SMALL | {"co_design": {"on": True, "rule": "board"}}
    configs = ({}, {"org": {"kind": "ics", "n_staff": 120}}, board)
    bad_values = (("co_design", "rule", "nope"), ("seeding", "n_seeds", -1), ("org", "n_staff", 1.5))
    for d in configs:
        cfg = from_dict(d)
        cfg.dynamics.p_spontaneous = 0  # an int where a float is declared
        via_dict = from_dict(dataclasses.asdict(cfg))
        via_object = from_dict(cfg)
        assert via_object == via_dict and type(via_object.dynamics.p_spontaneous) is float
        for group, key, bad in bad_values:
            node = getattr(cfg, group)
            old = getattr(node, key)
            setattr(node, key, bad)
            with pytest.raises(ConfigError) as want:
                from_dict(dataclasses.asdict(cfg))
            with pytest.raises(ConfigError) as got:
                from_dict(cfg)
            assert str(got.value) == str(want.value), f"{group}.{key}: refused as its dict is"
            setattr(node, key, old)


def test_a_configuration_run_again_is_read_again_after_any_change() -> None:
    """``run`` knows a configuration object it has validated by its identity while no
    configuration field anywhere has been set since: every way of changing it is seen."""
    import copy
    import dataclasses

    cfg = from_dict(SMALL | {"org": {"kind": "ics", "n_staff": 120}})
    org = organisation_for(cfg)

    def check(p_spontaneous: float) -> None:
        got = run(cfg, org=org, seed=1)
        want = run(dataclasses.asdict(cfg), org=org, seed=1)  # a dict: validated afresh
        assert got.config == want.config and got.config.dynamics.p_spontaneous == p_spontaneous
        assert _same(got, want)

    check(0.02)
    cfg.dynamics.p_spontaneous = 0.2  # a field set
    check(0.2)
    alias = copy.copy(cfg)  # shares its groups with cfg
    alias.dynamics.p_spontaneous = 0.05
    check(0.05)
    cfg.dynamics = dataclasses.replace(cfg.dynamics, p_spontaneous=0.1)  # a group replaced
    check(0.1)
    run(cfg, org=org, seed=1)
    cfg.org.partner_shares[0] = 0.9  # a list changed in place: no field is set
    assert run(cfg, org=org, seed=1).config.org.partner_shares == cfg.org.partner_shares
    cfg.org.partner_shares[0] = -1.0
    with pytest.raises(ConfigError) as want:
        from_dict(dataclasses.asdict(cfg))
    with pytest.raises(ConfigError) as got:
        run(cfg, org=org, seed=1)
    assert str(got.value) == str(want.value)
    cfg.org.partner_shares[0] = 0.9
    run(cfg, org=org, seed=1)
    cfg.seeding.n_seeds = True  # equal to the 1 it was, but not an integer
    with pytest.raises(ConfigError, match="seeding.n_seeds"):
        run(cfg, org=org, seed=1)


def test_results_of_one_configuration_own_their_configurations() -> None:
    cfg = from_dict(SMALL)
    org = organisation_for(cfg)
    a, b = run(cfg, org=org, seed=1), run(cfg, org=org, seed=1)
    assert a.config == cfg and a.config is not cfg and a.config is not b.config
    assert (
        a.config.dynamics is not b.config.dynamics and a.config.org.partner_kinds is not cfg.org.partner_kinds
    )
    b.config.org.partner_kinds.append("voluntary")
    assert a.config.org.partner_kinds == cfg.org.partner_kinds == from_dict(SMALL).org.partner_kinds
    assert run(cfg, org=org, seed=1).config == cfg


def test_configurations_built_from_dicts_equal_those_built_by_their_classes() -> None:
    """``from_dict`` writes fields straight into new objects (``sim.params._construct``)."""
    import dataclasses

    from sim.params import ModelConfig, _construct

    assert from_dict({}) == ModelConfig() and list(vars(from_dict({}))) == list(vars(ModelConfig()))
    for f in dataclasses.fields(ModelConfig):
        group = getattr(ModelConfig(), f.name)
        if dataclasses.is_dataclass(group):
            made = _construct(type(group), {})
            assert made == group and list(vars(made)) == list(vars(group)), f.name
    one, two = from_dict({}), from_dict({})
    assert one.org.partner_kinds is not two.org.partner_kinds, "each gets its own lists"


def test_a_full_group_memo_drops_the_least_recently_used_groups(monkeypatch) -> None:
    """With the memo full, a loop that changes one group per call, given as an object and
    as a dict, must still build only that group: dropping the oldest entries instead of
    the least recently used would drop, in turn, the groups it never changes (in the memo
    since its first call, or since an earlier configuration) and build them again. (The
    next test failed that way in the full suite once the memo had filled up.)"""
    import dataclasses

    import sim.params as P

    monkeypatch.setattr(P, "_GROUP_MEMO", {})
    monkeypatch.setattr(P, "_GROUP_MEMO_MAX", 40)
    monkeypatch.setattr(P, "_VALIDATED", {})
    built = []
    real_build = P._build
    monkeypatch.setattr(P, "_build", lambda cls, data, prefix, memo=None: built.append(prefix)
                        or real_build(cls, data, prefix, memo))  # fmt: skip
    cfg = from_dict(SMALL | {"org": {"kind": "ics", "n_staff": 120}})  # its groups by mapping
    from_dict(cfg)  # and by value (an object's memo keys)
    from_dict(dataclasses.asdict(cfg))  # and by the mapping of every field
    for k in range(60):  # two new groups a call: the memo fills up after eight
        p = 0.0301 + 0.001 * k  # never the first value (a configuration seen before builds nothing)
        cfg.dynamics.p_spontaneous = p
        for given in (cfg, dataclasses.asdict(cfg)):
            built.clear()
            got = from_dict(given)
            groups = [b for b in built if b and "." not in b]
            assert groups == ["dynamics"], (
                f"call {k}, {type(given).__name__}: built {groups}, not dynamics only"
            )
            assert got.dynamics.p_spontaneous == p
    assert len(P._GROUP_MEMO) <= 40


def test_a_configuration_changed_in_one_group_checks_that_group_only_and_validates_as_its_dict_does(
    monkeypatch,
) -> None:
    """A sampler's loop changes a value or two per call: ``sim.params._validate_keyed``
    takes the groups equal to those of a configuration validated before from
    ``_GROUP_MEMO`` and builds and checks only the rest, with the same result and the same
    refusals and warnings as validating the whole dict."""
    import dataclasses

    import sim.params as P

    built = []
    real_build = P._build
    monkeypatch.setattr(P, "_build", lambda cls, data, prefix, memo=None: built.append(prefix)
                        or real_build(cls, data, prefix, memo))  # fmt: skip
    cfg = from_dict(SMALL | {"org": {"kind": "ics", "n_staff": 120}})
    from_dict(cfg)
    for k, p in enumerate((0.011, 0.012, 0.013)):
        cfg.dynamics.p_spontaneous = p
        built.clear()
        got = from_dict(cfg)
        assert built == ["dynamics"], f"call {k}: only the changed group is built, not {built}"
        assert got == from_dict(dataclasses.asdict(cfg)) and got.dynamics.p_spontaneous == p
    # The kept groups are never handed out: changing a copy's unchanged group reaches no
    # later configuration that takes that group from the memo.
    got.people.trust_line = 0.123
    got.org.partner_shares[0] = 0.5
    cfg.dynamics.p_spontaneous = 0.014
    again = from_dict(cfg)
    assert (
        again.people.trust_line == cfg.people.trust_line
        and again.org.partner_shares == cfg.org.partner_shares
    )

    # Two bad values in two groups: refused with the dict's message (every coercion first,
    # then every range), whichever groups the memo holds.
    cfg.dynamics.p_spontaneous = 2.0  # out of range, group 'dynamics'
    cfg.seeding.n_seeds = "ten"  # not an integer, a later group
    with pytest.raises(ConfigError) as want:
        from_dict(dataclasses.asdict(cfg))
    with pytest.raises(ConfigError) as got_error:
        from_dict(cfg)
    assert str(got_error.value) == str(want.value) and "seeding.n_seeds" in str(want.value)
    cfg.seeding.n_seeds = 5
    with pytest.raises(ConfigError, match="dynamics.p_spontaneous"):
        from_dict(cfg)
    cfg.dynamics.p_spontaneous = 0.01

    # A check across groups runs on every call, kept groups or not: a mandate kept from a
    # configuration where it came into force warns where it no longer can.
    cfg.mandate.on, cfg.mandate.start = True, 10
    from_dict(cfg)
    cfg.n_steps = 5
    for _ in range(2):
        with pytest.warns(ConfigWarning, match="mandate.start=10"):
            assert from_dict(cfg).n_steps == 5


def _other_value(f, value):
    """A valid value of field ``f`` other than ``value`` (None where there is none to try)."""
    choices, rng = f.metadata.get("choices"), f.metadata.get("range")
    if type(value) is bool:
        return not value
    if choices:
        others = [c for c in choices if c != value]
        return others[0] if others else None
    if rng is not None and type(value) in (int, float):
        lo, hi = max(rng[0], -10.0), min(rng[1], 10.0 if type(value) is float else 60)
        new = lo + 0.37 * (hi - lo) if type(value) is float else int(lo + (hi - lo) // 3)
        return None if new == value else new
    return None


@pytest.mark.parametrize("rule", ["change", "threshold"])
def test_a_configuration_changed_in_kernel_parameters_only_runs_as_on_a_new_runner(rule) -> None:
    """``run`` serves a configuration that differs from a kept runner's only in keys that
    neither fix a runner nor shape the initial state (``sim.batch.shapes_runner``) from
    that runner (``Runner.run_with``). For every such key, changed alone, the run must be
    the one a new ``Runner`` of the changed configuration gives: a key that shapes the
    initial state (or a runner) but is not declared so would start from the kept runner's
    state instead, and fail here."""
    import dataclasses
    import importlib

    from sim.batch import shapes_runner
    from sim.params import FINGERPRINT_KEYS

    sim_run = importlib.import_module("sim.run")  # the module (``sim.run`` is the function)
    base = {"org": {"n_staff": 80}, "n_steps": 15, "dynamics": {"rule": rule, "p_spontaneous": 0.02},
            "mandate": {"on": True, "start": 2}}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        cfg = from_dict(base)
        org = organisation_for(cfg)
        run(cfg, org=org, seed=5)  # the families' runners: one run, and a batch
        run_batch(cfg, org=org, seeds=[5, 6, 7], by_group=False)
        kept = set(sim_run._RUNNERS)
        tried = 0
        for key in FINGERPRINT_KEYS:
            if shapes_runner(key) or "." not in key:
                continue
            group, name = key.split(".")
            node = getattr(cfg, group)
            f = next(f for f in dataclasses.fields(node) if f.name == name)
            new = _other_value(f, getattr(node, name))
            if new is None:
                continue
            changed = from_dict(cfg)
            setattr(getattr(changed, group), name, new)
            try:
                changed = from_dict(changed)
            except ConfigError:
                continue  # not a valid configuration with this value alone
            got = run(changed, org=org, seed=5)
            want = Runner(changed, org, by_group=True).run(np.array([5]))
            assert _same(got, want), f"{key}={new!r}: the kept runner's run differs from a new runner's"
            assert got.config == changed, key
            many = run_batch(changed, org=org, seeds=[5, 6, 7], by_group=False)
            want = Runner(changed, org).run(np.array([5, 6, 7]))
            assert _same(many, want) and np.array_equal(many.final_state, want.final_state), f"{key}: a batch"
            tried += 1
    assert tried > (40 if rule == "change" else 30), f"only {tried} keys tried"
    assert set(sim_run._RUNNERS) == kept, "every changed configuration was served the kept runner"


def _in_threads(worker, args: list) -> None:
    """worker(a) for each a in ``args``, each in its own thread, with Python switching
    threads every microsecond (so that any step of one call may interleave with another's)."""
    import sys
    import threading

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(a,)) for a in args]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)


def test_runs_from_several_threads_on_one_family_equal_the_runs_made_one_at_a_time() -> None:
    """Calls of ``run`` from several threads that find the same kept runner must not share
    its buffers (``sim.run._RUN_LOCK``): every run equals the one made alone. Thread
    switches are forced every microsecond so that one call's initial state would be
    overwritten by another's between drawing it and running it."""
    cfg = from_dict(SMALL)
    org = organisation_for(cfg)
    values = [0.005 * (k + 1) for k in range(12)]

    def config(p: float):
        c = from_dict(cfg)
        c.dynamics.p_spontaneous = p
        return c

    alone = {(p, s): run(config(p), org=org, seed=s) for p in values for s in range(3)}
    got: dict = {}
    errors: list = []

    def worker(ps: list[float]) -> None:
        try:
            for _ in range(3):
                for p in ps:
                    for s in range(3):
                        got.setdefault((p, s), []).append(run(config(p), org=org, seed=s))
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)

    _in_threads(worker, [values[0::3], values[1::3], values[2::3], values[::-1]])
    assert not errors, errors
    bad = {key: results for key, results in got.items() if not all(_same(r, alone[key]) for r in results)}
    assert not bad, _thread_diagnosis(bad, alone, config, org)


def _thread_diagnosis(bad: dict, alone: dict, config, org) -> str:
    """What a failure of the threads test found: for each (p_spontaneous, seed) whose runs
    differ, how many of its threaded runs differ, the p_spontaneous each result's own
    configuration holds, and which side a new ``Runner`` agrees with (so that a failure
    in CI says whether the run made alone or the runs made in threads went wrong)."""
    lines = [f"{len(bad)} (p_spontaneous, seed) pairs differ:"]
    for (p, s), results in list(bad.items())[:6]:
        fresh = Runner(config(p), org, by_group=True).run(np.array([s]))
        wrong = [r for r in results if not _same(r, alone[(p, s)])]
        held = sorted({r.config.dynamics.p_spontaneous for r in wrong})
        lines.append(
            f"  ({p}, {s}): {len(wrong)} of {len(results)} threaded runs differ; their configs' "
            f"p_spontaneous {held}; alone equals a new Runner: {_same(alone[(p, s)], fresh)}; "
            f"differing runs equal a new Runner: {[_same(r, fresh) for r in wrong]}"
        )
    return "\n".join(lines)


def test_a_mapping_validates_its_changed_groups_only_and_hands_out_no_kept_group(monkeypatch) -> None:
    """A configuration given as a mapping (``from_dict(d, **overrides)``, ``run(d)``) takes
    each group equal to one validated before from ``sim.params._GROUP_MEMO`` and builds the
    rest; what it returns is the caller's own, and refusals and warnings are as before."""
    import sim.params as P

    built = []
    real_build = P._build
    monkeypatch.setattr(P, "_build", lambda cls, data, prefix, memo=None: built.append(prefix)
                        or real_build(cls, data, prefix, memo))  # fmt: skip
    d = SMALL | {"people": {"trust_line": 0.7}}
    first = from_dict(d)
    built.clear()
    second = from_dict(d, **{"dynamics.p_spontaneous": 0.03})
    assert built == ["", "dynamics"], f"only the changed group is built, not {built}"
    assert second.dynamics.p_spontaneous == 0.03 and second.people == first.people
    second.people.trust_line = 0.1  # the caller's own: no later configuration sees this
    second.org.partner_shares[0] = 0.9
    third = from_dict(d)
    assert third.people.trust_line == 0.7 and third.org.partner_shares == first.org.partner_shares
    assert third.people is not first.people, "each call gets its own groups"
    with pytest.raises(ConfigError, match="people.trust_line"):
        from_dict(d, **{"people.trust_line": 1.5})
    with pytest.raises(ConfigError, match="unknown key 'people.trust'"):
        from_dict(d, **{"people.trust": 0.5})
    for _ in range(2):  # a group's own warning, and one across groups, every time
        with pytest.warns(ConfigWarning, match="org.kind=synthetic ignores org.mean_degree"):
            from_dict(d, **{"org.mean_degree": 4.0})
        with pytest.warns(ConfigWarning, match="mandate.on"):
            from_dict({"dynamics": {"rule": "bass"}, "mandate": {"on": True}})


def test_warnings_of_kept_and_new_configurations_meet_the_filters_in_force() -> None:
    """Validation counts the ``ConfigWarning``s it issues instead of catching them: under
    "always" every call warns (a warning is never lost to the memo), under "default" a
    loop warns once per place, as any Python warning does."""
    d = {"dynamics": {"rule": "bass"}, "mandate": {"on": True}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = from_dict(d)
    for action, most in (("always", 6), ("default", 2)):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter(action)
            for k in range(3):
                cfg.dynamics.p_spontaneous = 0.01 * (k + 1)
                from_dict(cfg)  # a configuration object
                from_dict(d, **{"dynamics.p_spontaneous": 0.01 * (k + 1)})  # a mapping
        hits = [w for w in seen if issubclass(w.category, ConfigWarning) and "mandate.on" in str(w.message)]
        assert (len(hits) == most) if action == "always" else (1 <= len(hits) <= most), (action, len(hits))


def test_validations_from_several_threads_keep_and_drop_memo_entries_safely(monkeypatch) -> None:
    """The memos of validated configurations and groups drop their oldest entries when
    full; threads validating at once (forced to switch every microsecond, memos kept
    small so that every call drops one) must neither fail nor get another's values."""
    import sim.params as P

    for name in ("_VALIDATED_MAX", "_GROUP_MEMO_MAX", "_SEEN_MAX"):
        monkeypatch.setattr(P, name, 4)
    base = from_dict(SMALL)
    errors: list = []

    def worker(offset: float) -> None:
        try:
            for k in range(150):
                p = 1e-4 * (k + 1) + offset
                c = from_dict(base)
                c.dynamics.p_spontaneous = p
                assert from_dict(c).dynamics.p_spontaneous == p
                assert from_dict({"dynamics": {"p_spontaneous": p}}).dynamics.p_spontaneous == p
        except Exception as e:  # reported below, not lost in the thread
            errors.append(repr(e))

    _in_threads(worker, [k * 1e-7 for k in range(4)])
    assert not errors, errors[:3]
    assert len(P._VALIDATED) <= 4 and len(P._GROUP_MEMO) <= 4
