"""Session ids for clients that send none, and the input delta of delta mode."""

from __future__ import annotations

import copy

from callbacks.sessions import InputLog, session_id

PLAN_PROMPT = {"role": "system", "content": "You are Cline. You are in PLAN MODE."}
ACT_PROMPT = {"role": "system", "content": "You are Cline. You are in ACT MODE."}


def user(text: str, cached: bool = False) -> dict:
    part: dict = {"type": "text", "text": text}
    if cached:
        part["cache_control"] = {"type": "ephemeral"}
    return {"role": "user", "content": [part]}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def cline_turns(task: str, count: int, act_from: int | None = None) -> list[list[dict]]:
    """The message lists of a Cline task: the whole history is resent every turn, with
    cache_control on the last two user messages only; from turn `act_from` in Act mode."""
    turns = []
    history: list[dict] = [user(f"<task>{task}</task>")]
    for turn in range(count):
        prompt = ACT_PROMPT if act_from is not None and turn >= act_from else PLAN_PROMPT
        messages = [prompt, *copy.deepcopy(history)]
        for message in [m for m in messages if m["role"] == "user"][-2:]:
            message["content"][0]["cache_control"] = {"type": "ephemeral"}
        turns.append(messages)
        history += [assistant(f"step {turn}"), user(f"[tool result {turn}]")]
    return turns


def test_every_turn_of_a_task_shares_one_session() -> None:
    ids = {session_id(None, "alice", turn) for turn in cline_turns("fix the bug", 6, act_from=3)}
    assert len(ids) == 1


def test_plan_and_act_system_prompts_do_not_split_a_task() -> None:
    turns = cline_turns("fix the bug", 4, act_from=2)
    assert turns[0][0] != turns[-1][0]
    assert session_id(None, "alice", turns[0]) == session_id(None, "alice", turns[-1])


def test_two_tasks_get_two_sessions() -> None:
    first = session_id(None, "alice", cline_turns("fix the bug", 1)[0])
    second = session_id(None, "alice", cline_turns("write the docs", 1)[0])
    assert first != second


def test_the_same_task_text_from_two_users_gets_two_sessions() -> None:
    messages = cline_turns("hi", 1)[0]
    assert session_id(None, "alice", messages) != session_id(None, "bob", messages)


def test_an_explicit_session_id_wins() -> None:
    assert session_id("cline-task-42", "alice", cline_turns("x", 1)[0]) == "cline-task-42"


def test_a_request_without_a_user_message_has_no_session() -> None:
    assert session_id(None, "alice", [PLAN_PROMPT]) is None


def test_delta_logs_only_messages_new_since_the_previous_request() -> None:
    log = InputLog()
    first, second = cline_turns("fix the bug", 2)[:2]
    assert log.select("s", "call-1", first).omitted == 0
    selection = log.select("s", "call-2", second)
    assert selection.omitted == len(first)
    assert selection.messages == second[len(first) :]


def test_delta_ignores_moved_cache_markers() -> None:
    log = InputLog()
    turns = cline_turns("fix the bug", 3)
    log.select("s", "call-1", turns[1])
    assert log.select("s", "call-2", turns[2]).omitted == len(turns[1])


def test_retries_of_one_request_log_the_same_delta() -> None:
    log = InputLog()
    first, second = cline_turns("fix the bug", 2)[:2]
    log.select("s", "call-1", first)
    attempt_one = log.select("s", "call-2", second)
    attempt_two = log.select("s", "call-2", second)
    assert attempt_two == attempt_one


def test_a_changed_history_is_logged_in_full() -> None:
    log = InputLog()
    first, second = cline_turns("fix the bug", 2)[:2]
    log.select("s", "call-1", first)
    edited = [PLAN_PROMPT, user("<task>something else</task>"), *second[2:]]
    assert log.select("s", "call-2", edited).omitted == 0


def test_a_switch_between_plan_and_act_logs_the_new_system_prompt() -> None:
    log = InputLog()
    first, second = cline_turns("fix the bug", 2, act_from=1)
    log.select("s", "call-1", first)
    selection = log.select("s", "call-2", second)
    assert selection.messages[0] == ACT_PROMPT


def test_delta_state_is_bounded_to_the_most_recent_sessions() -> None:
    log = InputLog(max_sessions=2)
    first, second = cline_turns("fix the bug", 2)[:2]
    for session in ("a", "b", "c"):
        log.select(session, f"{session}-1", first)
    assert log.select("a", "a-2", second).omitted == 0
    assert log.select("c", "c-2", second).omitted == len(first)


def test_delta_sees_an_edited_message_that_quotes_a_cache_marker_name() -> None:
    log = InputLog()
    log.select("s", "call-1", [user('what does "cache_control" do?')])
    edited = [user('what does "cache_control" do here?'), assistant("it marks a cache point")]
    selection = log.select("s", "call-2", edited)
    assert selection.omitted == 0
    assert selection.messages == edited


def test_a_front_ends_tasks_between_turns_keep_the_delta() -> None:
    # Open WebUI runs its title, tags and follow-up requests in the chat's session.
    log = InputLog()
    first, second = cline_turns("explain the proxy", 2)[:2]
    log.select("chat", "turn-1", first)
    for task in ("title", "tags", "follow-ups"):
        assert log.select("chat", task, [user(f"### Task: {task}")]).omitted == 0

    selection = log.select("chat", "turn-2", second)

    assert selection.omitted == len(first)
    assert selection.messages == second[len(first) :]


def test_the_longest_repeated_request_is_the_one_left_out() -> None:
    log = InputLog()
    turns = cline_turns("fix the bug", 3)
    log.select("s", "call-1", turns[0])
    log.select("s", "call-2", turns[1])
    log.select("s", "task", [user("### Task: title")])
    assert log.select("s", "call-3", turns[2]).omitted == len(turns[1])
