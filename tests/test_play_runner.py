"""The play screen's engine runner without an App: a plain host stands in for the screen, its
"threads" run when the test says so, and what the runner asks of it is recorded."""

from __future__ import annotations

import pytest

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.lm.table import random_model
from arlm_tui.tui.play_runner import MAX_QUEUED_STEPS, PlayRunner


class Host:
    """A host whose worker threads and deferred calls wait in lists until run."""

    def __init__(self) -> None:
        self.alive = True
        self.jobs: list[tuple[str, object]] = []
        self.later_calls: list[object] = []
        self.messages: list[tuple[str, str]] = []
        self.titles: list[str] = []
        self.draws = 0
        self.failures = 0
        self.loaded: list[tuple[bool, list[str]]] = []
        self.failed_models: list[str] = []
        self.runner: PlayRunner | None = None

    # what the runner needs
    def in_thread(self, work, group: str) -> None:
        self.jobs.append((group, work))

    def cancelled(self) -> bool:
        return False

    def to_ui(self, callback, *args) -> None:
        callback(*args)

    def later(self, callback) -> None:
        self.later_calls.append(callback)

    def notify(self, message, *, title="", severity="information", timeout=None) -> None:
        self.messages.append((message, severity))
        self.titles.append(title)

    def draw(self) -> None:
        self.draws += 1

    def take_step(self) -> None:  # as the screen does: a queued space is a new step
        self.runner.run(self.runner.session.step, queue_as_step=True)

    def operation_failed(self) -> None:
        self.failures += 1

    def model_loaded(self, switched, unknown) -> None:
        self.loaded.append((switched, unknown))

    def model_failed(self, message) -> None:
        self.failed_models.append(message)

    def session_opened(self, total, path) -> None:  # pragma: no cover - not used here
        raise AssertionError("no session file is opened in these tests")

    def ask_about_model(self, path, named) -> None:  # pragma: no cover - not used here
        raise AssertionError("no session file is opened in these tests")

    # what the test does
    def run_jobs(self) -> None:
        while self.jobs:
            _, work = self.jobs.pop(0)
            work()

    def run_later(self) -> None:
        while self.later_calls:
            self.later_calls.pop(0)()


def make_runner(*, threaded: bool = True, **knobs) -> tuple[PlayRunner, Host]:
    host = Host()
    runner = PlayRunner(host)
    host.runner = runner
    knobs.setdefault("min_tokens", 20)  # no </s> ends the text in these tests
    runner.session = Session(random_model(12, order=2, seed=4, concentration=0.6), "a",
                             DecodingConfig(strategy="sample", seed=3, **knobs))
    runner.always_threaded = threaded
    return runner, host


def count_configure(session: Session) -> list[dict]:
    """Record every ``session.configure`` call (its knobs) and let it through."""
    calls: list[dict] = []
    configure = session.configure

    def recorded(**knobs):
        calls.append(dict(knobs))
        return configure(**knobs)

    session.configure = recorded  # type: ignore[method-assign]
    return calls


def test_a_burst_of_knob_changes_is_one_recompute_with_the_last_values():
    runner, host = make_runner()
    calls = count_configure(runner.session)
    for step in range(1, 13):
        runner.turn("temperature", 1.0 + step / 20)
    runner.turn("top_k", 5)
    assert len(host.later_calls) == 1  # one flush is due, however many changes came
    assert runner.session.config.temperature == 1.0  # nothing applied yet
    assert runner.config.temperature == pytest.approx(1.6) and runner.config.top_k == 5
    host.run_later()
    assert runner.busy and len(host.jobs) == 1
    host.run_jobs()
    assert calls == [{"temperature": pytest.approx(1.6), "top_k": 5}]
    assert host.draws == 1 and not runner.busy and not runner.pending_knobs
    assert runner.snap.preview.config["temperature"] == pytest.approx(1.6)


def test_knobs_turned_while_a_step_runs_are_merged_into_one_operation_after_it():
    runner, host = make_runner()
    calls = count_configure(runner.session)
    assert runner.run(runner.session.step)
    for step in range(1, 6):
        runner.turn("temperature", 1.0 + step / 10)
    host.run_later()  # the flush comes while the step is still running: it waits
    assert calls == [] and runner.busy
    host.run_jobs()  # the step ends, then the waiting knobs go in one operation
    assert calls == [{"temperature": pytest.approx(1.5)}]
    assert runner.session.traces[0].config["temperature"] == 1.0  # the step kept its knobs
    assert runner.session.config.temperature == pytest.approx(1.5)
    assert host.draws == 2 and not runner.busy


def test_a_knob_turned_just_before_a_step_applies_to_that_step():
    runner, host = make_runner(threaded=False)
    calls = count_configure(runner.session)
    runner.turn("temperature", 0.5)
    assert runner.run(runner.session.step)  # inline: done at once
    assert runner.session.traces[-1].config["temperature"] == 0.5
    host.run_later()  # the flush finds nothing left to apply: no second recompute
    assert calls == [{"temperature": 0.5}] and host.draws == 1


def test_a_refused_knob_value_changes_nothing():
    runner, host = make_runner()
    with pytest.raises(ValueError):
        runner.turn("top_p", 1.5)
    assert runner.pending_knobs == {} and host.later_calls == []


def test_steps_asked_for_while_one_runs_are_queued_up_to_the_limit():
    runner, host = make_runner()
    assert runner.run(runner.session.step, queue_as_step=True)
    for _ in range(MAX_QUEUED_STEPS + 2):
        assert not runner.run(runner.session.step, queue_as_step=True)
    assert runner.queued_steps == MAX_QUEUED_STEPS
    refused = [m for m, _ in host.messages if m == "still computing the previous step …"]
    assert len(refused) == 2
    host.run_jobs()  # each finished step takes the next queued one
    assert len(runner.session.traces) == 1 + MAX_QUEUED_STEPS
    assert runner.queued_steps == 0 and not runner.busy
    assert host.draws == 1 + MAX_QUEUED_STEPS


def test_another_operation_while_busy_is_refused_not_queued():
    runner, host = make_runner()
    runner.run(runner.session.step)
    assert not runner.run(runner.session.undo)
    assert host.messages[-1] == ("still computing the previous step …", "information")
    assert runner.queued_steps == 0


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failing_operation_becomes_a_message_and_frees_the_runner(threaded):
    runner, host = make_runner(threaded=threaded)
    runner.run(runner.session.step)
    host.run_jobs()
    runner.run(runner.session.step, queue_as_step=True)
    runner.run(runner.session.step, queue_as_step=True)  # queued (threaded) or run (inline)
    host.run_jobs()
    steps = len(runner.session.traces)
    drawn = runner.snap

    def broken() -> None:
        raise RuntimeError("the weights are broken")

    runner.queued_steps = 3  # steps waiting behind the failing operation are dropped
    runner.busy = False
    assert runner.run(broken)
    host.run_jobs()
    assert runner.last_error == "unexpected RuntimeError: the weights are broken"
    assert host.messages[-1] == (runner.last_error, "error")
    assert host.failures == 1 and not runner.busy and runner.queued_steps == 0
    assert runner.snap is drawn and len(runner.session.traces) == steps

    def refused() -> None:
        raise ValueError("temperature must be >= 0")

    runner.run(refused)
    host.run_jobs()
    assert runner.last_error == "temperature must be >= 0"  # a user's mistake: no class name
    assert runner.run(runner.session.step)  # and the runner takes the next operation
    host.run_jobs()
    assert len(runner.session.traces) == steps + 1


def test_a_step_whose_preview_fails_is_still_drawn_with_the_message():
    runner, host = make_runner()
    session = runner.session
    good = session.model

    class BrokenAfterStep:
        def __getattr__(self, name):
            return getattr(good, name)

        def next_logprobs(self, *args, **kwargs):
            raise RuntimeError("no preview")

        def extend(self, *args, **kwargs):
            raise RuntimeError("no preview")

    def step_then_break() -> None:
        session.step()
        session.model = BrokenAfterStep()

    runner.run(step_then_break)
    host.run_jobs()
    assert "no preview" in runner.last_error and host.failures == 1
    assert runner.snap is not None and runner.snap.preview is None  # drawn without it
    assert len(runner.snap.pieces) == len(session.traces) == 1 and host.draws == 1


def test_a_result_arriving_after_the_screen_closed_is_dropped():
    runner, host = make_runner()
    runner.run(runner.session.step)
    host.alive = False
    host.run_jobs()
    assert runner.snap is None and host.draws == 0


def test_without_a_session_an_operation_says_why():
    host = Host()
    runner = PlayRunner(host)
    assert not runner.run(lambda: None)
    assert host.messages == [("no model is loaded: press m to choose one", "warning")]
    runner.busy = True  # a model is loading
    assert not runner.run(lambda: None)
    assert host.messages[-1] == ("still loading the model …", "information")


def test_a_model_that_does_not_load_becomes_a_message():
    host = Host()
    runner = PlayRunner(host)
    assert runner.load("no-such-model", prompt="the", first=True)
    assert not runner.load("oracle", prompt="the")  # one load at a time
    host.run_jobs()
    assert runner.session is None and not runner.busy
    assert "no-such-model" in runner.last_error
    assert host.messages[-1] == (runner.last_error, "error") and host.titles[-1] == "Model"
    assert host.failed_models == [runner.last_error]


def test_a_worker_failure_past_its_own_handling_frees_the_engine():
    runner, host = make_runner()
    runner.run(runner.session.step)
    runner.queued_steps = 2
    runner.worker_failed("unexpected KeyError: 3", engine=True)
    assert not runner.busy and runner.queued_steps == 0
    assert host.messages[-1] == ("unexpected KeyError: 3", "error")
    runner.busy = True
    runner.worker_failed("unexpected KeyError: 4", engine=False)  # an analysis worker
    assert runner.busy and runner.last_error == "unexpected KeyError: 4"


def test_an_analysis_overtaken_by_a_newer_one_is_not_delivered():
    runner, host = make_runner()
    delivered: list[tuple[object, object]] = []

    def deliver(data, error) -> None:
        delivered.append((data, error))

    runner.analyse(lambda: "old", deliver)
    runner.analyse(lambda: "new", deliver)
    assert [group for group, _ in host.jobs] == ["analysis", "analysis"]
    host.run_jobs()
    assert delivered == [("new", None)]

    def broken() -> None:
        raise KeyError("layer")

    runner.analyse(broken, deliver)
    host.run_jobs()
    assert delivered[-1] == (None, "unexpected KeyError: 'layer'")


def test_a_knob_refused_in_the_engine_is_named_as_the_knob_panel_shows_it():
    runner, host = make_runner()
    runner.run(lambda: runner.session.configure(logit_bias={"zebra-xyz": 1}))
    host.run_jobs()
    message = host.messages[-1][0]
    assert message.startswith("logit-bias: 'zebra-xyz' is not a single token")
    assert "logit_bias" not in message
    runner.run(lambda: runner.session.configure(dry_allowed_length=0))
    host.run_jobs()
    assert host.messages[-1][0].startswith("dry-allowed-length must be an integer")


def test_a_logit_bias_the_new_model_lacks_is_left_out_with_a_message_naming_it_as_shown():
    host = Host()
    runner = PlayRunner(host)
    runner.start_config = DecodingConfig(logit_bias={"zebra-xyz": 1})
    assert runner.load("oracle-kn3", prompt="the", first=True)
    host.run_jobs()
    assert runner.session is not None and not runner.session.config.logit_bias
    message, severity = host.messages[-1]
    assert severity == "error" and "logit_bias" not in message
    assert message.startswith("logit-bias: 'zebra-xyz' is not a single token of oracle-kn3")
    assert message.endswith("logit-bias is left out")
