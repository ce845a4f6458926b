"""A fleet starts the stacks it is handed a few at a time, and none of them plans before all of them lead:
a dead replica's stacks, claimed in batches as its leases expire, are served before the first plans start.
The stacks here are stand-ins with the two things the starter uses: a thread and a controller whose
``busy`` lock the fleet holds until the starter lets go."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from reconciler.engine.controller.startup import AT_ONCE, Starter


@dataclass
class State:
    leader: bool = False


@dataclass
class Controller:
    busy: threading.Lock = field(default_factory=threading.Lock)
    state: State = field(default_factory=State)


class Stack:
    """Starts up in ``startup`` seconds (then leads), then reconciles once its ``busy`` lock is free."""

    running = 0
    most_at_once = 0
    count_lock = threading.Lock()

    def __init__(self, startup: float) -> None:
        self.controller = Controller()
        self.controller.busy.acquire()  # as the fleet does before handing it over
        self.thread = threading.Thread(target=self.run, args=(startup,))
        self.led_at = 0.0
        self.reconciled_at = 0.0

    def run(self, startup: float) -> None:
        with Stack.count_lock:
            Stack.running += 1
            Stack.most_at_once = max(Stack.most_at_once, Stack.running)
        time.sleep(startup)
        with Stack.count_lock:
            Stack.running -= 1
        self.led_at = time.monotonic()
        self.controller.state.leader = True
        with self.controller.busy:
            self.reconciled_at = time.monotonic()


def finish(stack: Stack) -> None:
    deadline = time.monotonic() + 10
    while stack.thread.ident is None and time.monotonic() < deadline:  # the starter starts it
        time.sleep(0.01)
    stack.thread.join(10)


def test_every_stack_handed_over_leads_before_any_of_them_plans() -> None:
    stop = threading.Event()
    starter = Starter(stop)
    first = [Stack(0.02) for _ in range(20)]
    later = [Stack(0.02) for _ in range(10)]  # the next leases of the dead replica expire meanwhile
    starter.add(first)
    time.sleep(0.1)
    starter.add(later)
    stacks = first + later
    for stack in stacks:
        finish(stack)
    assert all(s.reconciled_at for s in stacks), "every stack reconciles in the end"
    assert min(s.reconciled_at for s in stacks) >= max(s.led_at for s in stacks), (
        "no first plan before the last start-up"
    )
    assert Stack.most_at_once <= AT_ONCE, "a few start-ups at a time"


def test_a_stack_that_never_leads_holds_the_others_up_for_a_bounded_time() -> None:
    stop = threading.Event()
    stuck = Stack(3.0)  # stands by for its lock, held by a CI apply
    others = [Stack(0.01) for _ in range(3)]
    started = time.monotonic()
    Starter(stop).add([stuck, *others])
    for stack in others:
        finish(stack)
    assert all(s.reconciled_at for s in others)
    assert max(s.reconciled_at for s in others) - started < 2.5, "not held until the stuck one leads"
    finish(stuck)
