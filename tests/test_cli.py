"""The venn-gym command line: compare outputs, scenario commands, benchmark and paper table."""

import json
import os

import pandas as pd
import pytest

from venn_gym.cli import main

SMALL = ["--scenario", "paper/low-v0", "--scale", "0.02"]


def test_compare_writes_summary_jobs_and_plots(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert (
        main(["compare", *SMALL, "--policies", "random,srsf,venn", "--seeds", "2", "--workers", "1", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "speed-up" in printed and "venn" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    assert set(summary["policies"]) == {"random", "srsf", "venn"}
    for name, p in summary["policies"].items():
        for key in ("mean_jct_s", "p50_jct_s", "p95_jct_s", "makespan_s", "speedup_vs_random", "per_seed"):
            assert key in p, (name, key)
        assert len(p["per_seed"]) == 2
        # The summary's mean is the mean of the per-seed means, each over that seed's finished jobs.
        assert p["mean_jct_s"] == pytest.approx(sum(s["mean_jct_s"] for s in p["per_seed"]) / 2)
    assert summary["policies"]["random"]["speedup_vs_random"] == pytest.approx(1.0)
    jobs = pd.read_csv(out / "jobs.csv")
    assert len(jobs) == 3 * 2 * 50
    for (policy, seed), group in jobs.groupby(["policy", "seed"]):
        per_seed = next(s for s in summary["policies"][policy]["per_seed"] if s["seed"] == seed)
        assert group.loc[group.finished, "jct_s"].mean() == pytest.approx(per_seed["mean_jct_s"])
    assert (out / "jct_cdf.png").stat().st_size > 1000
    assert not (out / "rounds.csv.gz").exists()
    assert (out / "speedup.png").stat().st_size > 1000


def test_compare_parallel_workers_give_the_same_numbers(tmp_path):
    args = ["compare", *SMALL, "--policies", "fifo,venn", "--seeds", "2"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--workers", "2", "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    for name in ("fifo", "venn"):
        assert a["policies"][name]["mean_jct_s"] == b["policies"][name]["mean_jct_s"]


def test_horizon_reports_unfinished_jobs_apart(tmp_path):
    out = tmp_path / "h"
    assert (
        main(
            [
                "compare",
                *SMALL,
                "--policies",
                "random",
                "--seeds",
                "1",
                "--workers",
                "1",
                "--horizon-days",
                "0.05",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    seed = json.loads((out / "summary.json").read_text())["policies"]["random"]["per_seed"][0]
    assert seed["unfinished_jobs"] > 0
    assert seed["finished_jobs"] + seed["unfinished_jobs"] == seed["jobs"]
    jobs = pd.read_csv(out / "jobs.csv")
    assert (~jobs.finished).sum() == seed["unfinished_jobs"]


def test_bad_policy_and_scenario_are_clear_errors(capsys):
    assert main(["compare", *SMALL, "--policies", "random,nosuch", "--seeds", "1"]) == 2
    assert "unknown policy 'nosuch'" in capsys.readouterr().err
    assert main(["compare", "--scenario", "paper/nosuch-v0", "--seeds", "1"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_scenarios_list_and_show(capsys):
    assert main(["scenarios", "list"]) == 0
    listed = capsys.readouterr().out
    for mix in ("even", "small", "large", "low", "high", "general", "comp_heavy", "mem_heavy", "res_intensive"):
        assert f"paper/{mix}-v0" in listed
    assert main(["scenarios", "show", *SMALL]) == 0
    shown = capsys.readouterr().out
    assert "jobs: 50" in shown and "high_performance" in shown


def test_benchmark_prints_figures(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["benchmark", *SMALL, "--policies", "venn", "--out", str(out)]) == 0
    text = out.read_text()
    assert "check-ins/s" in text and "| venn |" in text and "µs" in text


def test_paper_table_small(tmp_path):
    assert (
        main(
            [
                "paper-table",
                "--workloads",
                "low",
                "--seeds",
                "2",
                "--scale",
                "0.02",
                "--workers",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    table = (tmp_path / "table1.md").read_text()
    assert "| low |" in table and "1.88x" in table  # paper's Venn figure for Low beside ours
    assert "Ablation" in table
    rows = pd.read_csv(tmp_path / "table1.csv", comment="#")
    assert set(rows.policy) >= {"fifo", "srsf", "venn", "venn-ref", "venn-no-sched", "venn-no-match", "random-order"}
    assert set(rows.reference) == {"random", "random-order"}
    assert set(rows.version) == {1}
    assert "Failed rounds and wasted work" in table and "Venn-ref" in table
    assert (tmp_path / "paper-v1" / "low" / "summary.json").exists()
    (tmp_path / "table1.md").unlink()
    assert main(["paper-table", "--tables-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "table1.md").read_text() == table
    # A second version's record joins the same tables: its speed-ups stand beside the first's.
    assert (
        main(
            [
                "paper-table",
                "--workloads",
                "low",
                "--seeds",
                "2",
                "--scale",
                "0.02",
                "--workers",
                "2",
                "--version",
                "0",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    both = (tmp_path / "table1.md").read_text()
    assert "v1 / v0 / paper" in both
    assert set(pd.read_csv(tmp_path / "table1.csv", comment="#").version) == {0, 1}


def test_rounds_csv_has_every_round_attempt(tmp_path):
    out = tmp_path / "r"
    assert (
        main(["compare", *SMALL, "--policies", "fifo", "--seeds", "1", "--workers", "1", "--rounds", "--out", str(out)])
        == 0
    )
    rounds = pd.read_csv(out / "rounds.csv.gz")
    jobs = pd.read_csv(out / "jobs.csv")
    done = rounds[rounds.success].groupby("job").size()
    assert (done.reindex(jobs.job).values == jobs.rounds_done.values).all()
    assert (rounds.end_s - rounds.request_s).groupby(rounds.job).sum().values == pytest.approx(jobs.jct_s.values)


@pytest.mark.parametrize("workers", [1, 2])
def test_run_many_reports_progress_inside_runs(workers, monkeypatch):
    from venn_gym.experiments import compare

    monkeypatch.setattr(compare, "PROGRESS_EVERY_S", 0.0)  # every scheduling event (workers fork after this)
    specs = [compare.RunSpec("paper/low-v1", seed, "fifo", (("scale", 0.02),)) for seed in (0, 1)]
    reports = []
    runs = compare.run_many(specs, workers=workers, on_progress=lambda *r: reports.append(r))
    for index, run in enumerate(runs):
        mine = [r for r in reports if r[0] == index]
        assert mine, f"no progress from run {index}"
        times, ended = [r[1] for r in mine], [r[2] for r in mine]
        assert times == sorted(times) and ended == sorted(ended)
        assert all(r[3] == len(run.result.jobs) for r in mine)
        assert ended[-1] <= sum(j.finished for j in run.result.jobs)


def test_compare_out_is_refused_when_not_empty_and_replaced_whole_with_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "stale.csv").write_text("from an older run")
    args = ["compare", *SMALL, "--policies", "fifo", "--seeds", "1", "--workers", "1", "--out", str(out)]
    assert main(args) == 2
    assert "is not empty: pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["jct_cdf.png", "jobs.csv", "summary.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial folder or lock left behind


def test_output_folder_leaves_out_untouched_on_failure_and_respects_locks(tmp_path):
    from venn_gym.errors import SpecError
    from venn_gym.outputs import output_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("kept")
    with pytest.raises(RuntimeError):
        with output_folder(out, overwrite=True) as folder:
            (folder / "new.txt").write_text("half")
            raise RuntimeError("the run failed")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / ".out.lock").write_text(str(os.getpid()))  # a live writer
    with pytest.raises(SpecError, match=f"another run \\(process {os.getpid()}\\) is writing"):
        with output_folder(out, overwrite=True):
            pass
    (tmp_path / ".out.lock").write_text("999999999")  # left by a process that no longer exists
    with output_folder(out, overwrite=True) as folder:
        (folder / "new.txt").write_text("complete")
    assert [p.name for p in out.iterdir()] == ["new.txt"]


def test_ctrl_c_keeps_the_finished_runs_in_a_partial_summary(tmp_path, monkeypatch, capsys):
    from venn_gym.experiments import compare

    real = compare.execute
    calls = []

    def interrupted_second_run(spec, index=0, on_progress=None):
        calls.append(spec)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(spec, index, on_progress)

    monkeypatch.setattr(compare, "execute", interrupted_second_run)
    out = tmp_path / "run"
    assert (
        main(["compare", *SMALL, "--policies", "fifo,srsf", "--seeds", "1", "--workers", "1", "--out", str(out)]) == 130
    )
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["policies"]) == ["fifo"]
    assert summary["partial"].startswith("interrupted after 1 of 2 runs")
    assert "Ctrl-C" in capsys.readouterr().out


def test_summaries_and_plots_name_a_file_scenario_by_its_registered_name(tmp_path):
    from pathlib import Path

    from venn_gym.experiments.compare import scenario_title

    path = Path(__file__).resolve().parents[1] / "examples" / "scenarios" / "campus-v0.yaml"
    out = tmp_path / "run"
    assert (
        main(
            [
                "compare",
                "--scenario",
                str(path),
                "--policies",
                "fifo",
                "--seeds",
                "2",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == str(path) and summary["scenario_name"] == "mylab/campus-v0"
    assert scenario_title(summary) == "mylab/campus-v0, seeds 0-1"
    assert (
        scenario_title(dict(summary, scenario_options={"scale": 0.05}, seeds=[100, 102]))
        == "mylab/campus-v0, scale 0.05, seeds 100,102"
    )


def test_paper_table_refuses_to_replace_a_record_of_other_workloads_made_differently(tmp_path, capsys):
    import json

    record = {"seeds": 2, "scale": 1.0, "summaries": {"even": {}, "low": {}}, "command": "earlier"}
    (tmp_path / "table1-v1.json").write_text(json.dumps(record))
    command = "paper-table --workloads low --seeds 1 --scale 0.02 --workers 1 --out".split()
    assert main([*command, str(tmp_path)]) == 2  # refused before simulating anything
    said = capsys.readouterr().err
    assert "holds a run with 2 seeds at scale 1.0" in said and "lose its workloads ['even']" in said
    assert json.loads((tmp_path / "table1-v1.json").read_text()) == record
    assert not (tmp_path / "paper-v1").exists()
