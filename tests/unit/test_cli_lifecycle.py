"""`status`, `stop`, `restart`, `down`, `logs`, `update-config` against the docker stand-in.

Exact output in an isolated environment; the compose commands checked are the ones the
stand-in received.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmops_kit import settings
from tests.unit.cli_harness import SERVICES, Kit, make_kit, ps_line


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    kit.set(COMPOSE_PROJECT_NAME="kit")
    settings.init_env(kit.env_file)
    kit.docker.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    return kit


def healthy_stack(kit: Kit, **overrides: str) -> None:
    lines = [overrides.get(s) or ps_line(s) for s in SERVICES]
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")


def spool_reports(kit: Kit, spans: int) -> None:
    report = {"backlog_spans": spans, "oldest_age_seconds": 300.0 if spans else None}
    kit.docker.reply("compose", "exec", "litellm", stdout=json.dumps(report) + "\n")


def volume_reports(
    kit: Kit, spans: dict[str, int], unreadable: dict[str, str] | None = None
) -> None:
    """What `spool_health.py --all` prints for a spool volume: each spool's report by name."""
    spools = {
        name: {"spool": f"/var/lib/llmops/spool/{name}", "backlog_spans": count}
        for name, count in spans.items()
    }
    report = {"volume": "/var/lib/llmops/spool", "spools": spools, "unreadable": unreadable or {}}
    kit.docker.reply("compose", "exec", "litellm", "--all", stdout=json.dumps(report) + "\n")


STATUS_HEALTHY = """\
Project kit
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ service          ┃ state   ┃ health  ┃ ports                    ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ clickhouse       │ running │ healthy │                          │
│ langfuse-web     │ running │ healthy │ 127.0.0.1:3000->3000/tcp │
│ langfuse-worker  │ running │ healthy │                          │
│ litellm          │ running │ healthy │ 127.0.0.1:4000->4000/tcp │
│ litellm-postgres │ running │ healthy │                          │
│ minio            │ running │ healthy │                          │
│ postgres         │ running │ healthy │                          │
│ redis            │ running │ healthy │                          │
└──────────────────┴─────────┴─────────┴──────────────────────────┘
"""


def test_status_of_a_healthy_stack_is_a_table_and_exit_0(kit: Kit) -> None:
    healthy_stack(
        kit,
        litellm=ps_line("litellm", published=[("127.0.0.1", 4000, 4000)]),
        **{"langfuse-web": ps_line("langfuse-web", published=[("127.0.0.1", 3000, 3000)])},
    )
    spool_reports(kit, 0)
    outcome = kit.run("status")
    assert outcome.code == 0
    assert outcome.stdout == STATUS_HEALTHY
    assert outcome.stderr == "callback backlog: 0 spans; everything was delivered to Langfuse\n"


def test_status_exits_1_naming_unhealthy_and_missing_services(kit: Kit) -> None:
    lines = [ps_line(s) for s in SERVICES if s not in ("langfuse-web", "redis")]
    lines.append(ps_line("langfuse-web", health="unhealthy"))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    spool_reports(kit, 0)
    outcome = kit.run("status")
    assert outcome.code == 1
    assert "│ redis            │ not created │ -         │       │" in outcome.stdout
    assert outcome.stderr.splitlines()[-2:] == [
        "not ready: langfuse-web, redis",
        "  fix: `python manage_langfuse.py start` starts what is stopped; "
        "`python manage_langfuse.py logs SERVICE` shows why a service is unhealthy.",
    ]


def test_status_shows_the_callback_backlog(kit: Kit) -> None:
    healthy_stack(kit)
    spool_reports(kit, 12)
    outcome = kit.run("status")
    assert outcome.stderr == "callback backlog: 12 spans waiting for Langfuse, oldest 5 min\n"


def test_status_says_the_backlog_is_unknown_when_the_spool_cannot_be_read(kit: Kit) -> None:
    healthy_stack(kit)
    kit.docker.reply("compose", "exec", stderr="service litellm is not running\n", exit=1)
    outcome = kit.run("status")
    assert outcome.stderr == "callback backlog: unknown (service litellm is not running)\n"
    assert outcome.code == 0


def test_status_reports_an_unreachable_engine_with_the_fix(kit: Kit) -> None:
    kit.docker.reply(
        "compose",
        "ps",
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?\n",
        exit=1,
    )
    outcome = kit.run("status")
    assert outcome.code == 1
    assert outcome.stderr.splitlines()[-1].startswith("  fix: Start Docker: ")


def test_stop_stops_the_project_and_says_data_is_kept(kit: Kit) -> None:
    kit.docker.reply("compose", "stop", stderr=" Container kit-redis-1  Stopped\n")
    outcome = kit.run("stop")
    assert outcome.code == 0
    assert kit.compose_calls("stop")[0][-1] == "stop"
    assert outcome.stderr == (
        "OK stopped project kit; data kept. `python manage_langfuse.py start` resumes it.\n"
    )


def test_compose_warnings_come_through_and_routine_steps_do_not(kit: Kit) -> None:
    kit.docker.reply(
        "compose",
        "stop",
        stderr=" Container kit-redis-1  Stopping\n Container kit-redis-1  Stopped\n"
        'WARN[0000] The "HOME" variable is not set. Defaulting to a blank string.\n',
    )
    outcome = kit.run("stop")
    assert outcome.stderr.splitlines()[0] == (
        'WARN[0000] The "HOME" variable is not set. Defaulting to a blank string.'
    )
    assert len(outcome.stderr.splitlines()) == 2


def test_restart_of_one_service_waits_for_its_health(kit: Kit) -> None:
    kit.docker.reply("compose", "restart")
    healthy_stack(kit)
    outcome = kit.run("restart", "redis")
    assert outcome.code == 0
    assert kit.compose_calls("restart")[0][-2:] == ["restart", "redis"]
    assert outcome.stderr.splitlines() == [
        "redis: running (healthy)",
        "OK restarted redis; healthy",
    ]


def test_restart_of_an_unknown_service_is_a_usage_error(kit: Kit) -> None:
    outcome = kit.run("restart", "nope")
    assert outcome.code == 2
    assert outcome.stderr.splitlines() == [
        "Error: there is no service 'nope'",
        f"  fix: Use one of: {', '.join(sorted(SERVICES))}.",
    ]
    assert kit.compose_calls("restart") == []


def test_down_keeps_the_volumes_by_default(kit: Kit) -> None:
    kit.docker.reply("compose", "down")
    outcome = kit.run("down")
    assert outcome.code == 0
    assert kit.compose_calls("down")[0][-1] == "down"
    assert outcome.stderr == "OK removed the containers of kit; volumes and data kept\n"


def test_down_volumes_without_yes_and_without_a_terminal_deletes_nothing(kit: Kit) -> None:
    volume_reports(kit, {"replica-0/spool.db": 3})
    outcome = kit.run("down", "--volumes")
    assert outcome.code == 1
    assert kit.compose_calls("down") == []
    assert outcome.stderr.splitlines() == [
        "WARN the callback's spools still hold 3 undelivered spans, in 1 of 1 spools "
        "(replica-0/spool.db); deleting the volumes loses them",
        "Delete every volume of project kit (all Langfuse data)? [y/n] (n): ",
        "nothing removed; pass --yes to delete without the question",
    ]


def test_down_volumes_deletes_after_the_user_confirms(kit: Kit) -> None:
    volume_reports(kit, {"replica-0/spool.db": 0})
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", stdin="y\n")
    assert outcome.code == 0
    assert kit.compose_calls("down")[0][-2:] == ["down", "--volumes"]


def test_down_volumes_counts_the_spans_of_every_replica_and_of_orphaned_slots(kit: Kit) -> None:
    spool_reports(kit, 0)  # replica 1's own slot is empty
    volume_reports(
        kit,
        {
            "replica-0/spool.db": 0,
            "replica-1/spool.db": 4,
            "replica-3/spool.db": 2,  # its replica was removed by a scale-down
        },
    )
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", "--yes")
    assert outcome.code == 0
    assert outcome.stderr.splitlines() == [
        "WARN the callback's spools still hold 6 undelivered spans, in 2 of 3 spools "
        "(replica-1/spool.db, replica-3/spool.db); deleting the volumes loses them",
        "OK removed project kit and its volumes",
    ]
    [exec_call] = kit.compose_calls("exec")
    assert exec_call[-3:] == ["python3", "/app/config/callbacks/spool_health.py", "--all"]


def test_down_volumes_reads_the_spools_in_a_replica_that_runs_when_the_first_does_not(
    kit: Kit,
) -> None:
    lines = []
    for number, state in ((1, "exited"), (2, "running")):
        record = json.loads(ps_line("litellm", state=state))
        record.update(Name=f"kit-litellm-{number}", Names=f"kit-litellm-{number}")
        lines.append(json.dumps(record))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    spools = {"replica-1/spool.db": {"backlog_spans": 5}}
    report = {"volume": "/var/lib/llmops/spool", "spools": spools, "unreadable": {}}
    kit.docker.reply(
        "compose",
        "exec",
        "--index",
        "2",
        "litellm",
        "--all",
        stdout=json.dumps(report),
    )
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", "--yes")
    assert outcome.stderr.splitlines()[0] == (
        "WARN the callback's spools still hold 5 undelivered spans, in 1 of 1 spools "
        "(replica-1/spool.db); deleting the volumes loses them"
    )


def test_down_volumes_names_a_spool_it_could_not_read(kit: Kit) -> None:
    volume_reports(
        kit, {"replica-0/spool.db": 0}, unreadable={"replica-1/spool.db": "database is locked"}
    )
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", "--yes")
    assert outcome.stderr.splitlines()[0] == (
        "WARN 1 of the callback's spools are empty; 1 could not be read, their spans are not "
        "counted: replica-1/spool.db (database is locked); deleting the volumes loses them"
    )


def test_down_volumes_of_an_empty_volume_says_every_trace_was_delivered(kit: Kit) -> None:
    volume_reports(kit, {"replica-0/spool.db": 0, "replica-1/spool.db": 0})
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", "--yes")
    assert outcome.stderr.splitlines()[0] == (
        "WARN the callback's spools are empty (2): every trace reached Langfuse"
    )


def test_down_volumes_with_yes_warns_that_the_backlog_is_unknown_when_unreadable(
    kit: Kit,
) -> None:
    kit.docker.reply("compose", "exec", stderr="service litellm is not running\n", exit=1)
    kit.docker.reply("compose", "down")
    outcome = kit.run("down", "--volumes", "--yes")
    assert outcome.code == 0
    assert outcome.stderr.splitlines() == [
        "WARN the callback's backlog is unknown (service litellm is not running); any traces "
        "not yet delivered to Langfuse are deleted with the volumes",
        "OK removed project kit and its volumes",
    ]


def test_logs_pass_tail_and_service_and_mask_secrets(kit: Kit) -> None:
    password = kit.settings()["REDIS_AUTH"]
    kit.docker.reply("compose", "logs", stdout=f"redis-1  | auth {password} accepted\n")
    outcome = kit.run("logs", "redis", "--tail", "5")
    assert outcome.code == 0
    assert kit.compose_calls("logs")[0][-4:] == ["--no-color", "--tail", "5", "redis"]
    assert outcome.stdout == "redis-1  | auth *** accepted\n"


def test_logs_drop_the_colour_codes_programs_write(kit: Kit) -> None:
    kit.docker.reply("compose", "logs", stdout="litellm-1  | \x1b[32m    claude-opus-4-7\x1b[0m\n")
    outcome = kit.run("logs", "litellm")
    assert outcome.stdout == "litellm-1  |     claude-opus-4-7\n"


def test_update_config_refuses_an_invalid_config_and_recreates_nothing(
    kit: Kit, tmp_path: Path
) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text("model_list: []\nrouter_settings:\n  fallbacks: [{ghost: [nowhere]}]\n")
    kit.set(LLMOPS_LITELLM_CONFIG=str(config))
    outcome = kit.run("update-config")
    assert outcome.code == 1
    assert outcome.stderr.splitlines()[0].startswith(f"Error: {config}: router_settings.fallbacks")
    assert kit.compose_calls("up") == []


def test_update_config_of_a_stopped_stack_says_to_start_it(kit: Kit) -> None:
    kit.docker.reply("compose", "ps", stdout=ps_line("litellm", state="exited", health="") + "\n")
    outcome = kit.run("update-config")
    assert outcome.code == 1
    assert outcome.stderr.splitlines()[-2:] == [
        "Error: litellm is exited (0): there is no running proxy to update",
        "  fix: Run `python manage_langfuse.py start`; it reads the config as it starts.",
    ]
    assert kit.compose_calls("up") == []


def test_update_config_recreates_only_the_proxy_and_waits_for_it(kit: Kit) -> None:
    kit.docker.reply("compose", "up")
    healthy_stack(kit)
    outcome = kit.run("update-config")
    assert outcome.code == 0
    assert kit.compose_calls("up")[0][-5:] == [
        "up",
        "--detach",
        "--no-deps",
        "--force-recreate",
        "litellm",
    ]
    assert outcome.stderr.splitlines()[-2:] == [
        "litellm: running (healthy)",
        "OK litellm runs the new config and is healthy",
    ]


def test_status_shows_spans_waiting_for_the_read_api_and_requests_never_traced(kit: Kit) -> None:
    healthy_stack(kit)
    report = {
        "backlog_spans": 2,
        "oldest_age_seconds": 30.0,
        "in_doubt_spans": 1,
        "in_doubt_check_error": "read API answered HTTP 500",
        "dropped_events": 3,
    }
    kit.docker.reply("compose", "exec", "litellm", stdout=json.dumps(report) + "\n")
    outcome = kit.run("status")
    assert outcome.stderr == (
        "callback backlog: 2 spans waiting for Langfuse, oldest 30 s; 1 spans sent without an "
        "answer wait for Langfuse's read API to confirm them (read API answered HTTP 500); 3 "
        "requests were never traced (the proxy's queue to its delivery process was full)\n"
    )


def test_status_shows_each_replica_and_its_own_backlog(kit: Kit) -> None:
    lines = [ps_line(s) for s in SERVICES if s != "litellm"]
    for number in (1, 2, 3):
        record = json.loads(ps_line("litellm"))
        record.update(Name=f"kit-litellm-{number}", Names=f"kit-litellm-{number}")
        lines.append(json.dumps(record))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    for number, spans in ((1, 0), (2, 4), (3, 0)):
        report = {"backlog_spans": spans, "oldest_age_seconds": 30.0 if spans else None}
        kit.docker.reply(
            "compose", "exec", "--index", str(number), "litellm", stdout=json.dumps(report)
        )

    outcome = kit.run("status")

    assert outcome.code == 0
    for number in (1, 2, 3):
        assert f"│ litellm-{number} " in outcome.stdout
    assert outcome.stderr.splitlines() == [
        "litellm-1: callback backlog: 0 spans; everything was delivered to Langfuse",
        "litellm-2: callback backlog: 4 spans waiting for Langfuse, oldest 30 s",
        "litellm-3: callback backlog: 0 spans; everything was delivered to Langfuse",
    ]


def test_status_shows_spans_left_in_slots_no_running_replica_holds(kit: Kit) -> None:
    lines = [ps_line(s) for s in SERVICES if s != "litellm"]
    for number in (1, 2):
        record = json.loads(ps_line("litellm"))
        record.update(Name=f"kit-litellm-{number}", Names=f"kit-litellm-{number}")
        lines.append(json.dumps(record))
    kit.docker.reply("compose", "ps", stdout="\n".join(lines) + "\n")
    for number, spans in ((1, 0), (2, 4)):
        report = {
            "spool": f"/var/lib/llmops/spool/replica-{number - 1}/spool.db",
            "backlog_spans": spans,
            "oldest_age_seconds": 30.0 if spans else None,
        }
        kit.docker.reply(
            "compose", "exec", "--index", str(number), "litellm", stdout=json.dumps(report)
        )
    # replica-2 and replica-3 were left by a scale-down from 4 replicas to 2
    volume_reports(
        kit,
        {
            "replica-0/spool.db": 0,
            "replica-1/spool.db": 4,
            "replica-2/spool.db": 0,
            "replica-3/spool.db": 7,
        },
    )

    outcome = kit.run("status")

    assert outcome.code == 0
    assert outcome.stderr.splitlines() == [
        "litellm-1: callback backlog: 0 spans; everything was delivered to Langfuse",
        "litellm-2: callback backlog: 4 spans waiting for Langfuse, oldest 30 s",
        "callback backlog of spools no running replica holds: 7 spans waiting for Langfuse in "
        "replica-3/spool.db (7); the proxies' adopters deliver them",
    ]


def test_status_shows_no_orphaned_spans_when_every_slot_is_held(kit: Kit) -> None:
    healthy_stack(kit)
    report = {"spool": "/var/lib/llmops/spool/replica-0/spool.db", "backlog_spans": 2}
    kit.docker.reply("compose", "exec", "litellm", stdout=json.dumps(report) + "\n")
    volume_reports(kit, {"replica-0/spool.db": 2})
    outcome = kit.run("status")
    assert outcome.stderr == "callback backlog: 2 spans waiting for Langfuse\n"
