"""Repair tokens (gdlab.repairs): what parsing reads to rerun the job of a record gdlab
wrote, without writing anything. A token changes when the record needs its job again and
then stays equal once the job has written it back (one rerun, never two)."""

import os

import pytest

from gdlab.io import stamp, write_json
from gdlab.repairs import Repairs, stale_runs, token


def test_a_whole_record_keeps_its_token_and_a_missing_one_has_none(tmp_path):
    path = tmp_path / "best.json"
    assert token(path) == ("", None)
    write_json(path, {"run_name": "a"})
    assert token(path) == ("", None)  # never repaired: no field, the empty token
    write_json(path, stamp({"run_name": "a"}, "abc"))
    assert token(path) == ("abc", None)


@pytest.mark.parametrize("text, why", [('{"cut', "not valid JSON"), ("[]", "a JSON list"),
                                       ("", "not valid JSON"), ("7", "a JSON int")])
def test_a_damaged_record_gets_a_new_token_that_its_job_writes_back(tmp_path, text, why):
    path = tmp_path / "best.json"
    path.write_text(text)
    new, said = token(path)
    assert new and why in said
    assert token(path) == (new, said)  # reading changes nothing: the same token again
    write_json(path, stamp({"run_name": "a"}, new))  # the job ran with it
    assert token(path) == (new, None)  # so nothing reruns a second time


def test_the_same_damage_twice_still_reruns(tmp_path):
    """Cut to nothing, repaired, cut to nothing again: the second cut is another damage."""
    path = tmp_path / "best.json"
    path.write_text("")
    first, _ = token(path)
    write_json(path, stamp({}, first))
    path.write_text("")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later edit
    second, _ = token(path)
    assert second not in ("", first)


def test_a_stale_whole_record_gets_a_token_from_its_own_and_the_problem(tmp_path):
    path = tmp_path / "mlflow.json"
    write_json(path, stamp({"children": {}}, "t0"))
    t1, why = token(path, lambda _: "out of step")
    assert t1 not in ("", "t0") and why == "out of step"
    write_json(path, stamp({"children": {}}, t1))
    assert token(path) == (t1, None)
    t2, _ = token(path, lambda _: "out of step")  # the same problem again, later: a new token
    assert t2 not in ("t0", t1)


def test_manifests_listing_runs_whose_files_are_gone(tmp_path):
    """A sweep's shard, a halving rung's and a TPE round's: each in its own runs folder."""
    sweep = tmp_path / "d" / "m"
    manifests = {"sweep": sweep / "shards" / "0.json",
                 "rung": sweep / "rungs" / "1" / "shards" / "0.json",
                 "round": sweep / "rounds" / "2" / "shards" / "0.json"}
    runs = {"sweep": sweep / "runs", "rung": sweep / "rungs" / "1" / "runs",
            "round": sweep / "runs"}
    for kind, path in manifests.items():
        write_json(path, {"runs": {f"lr~{kind}": {}, "lr~kept": {}}})
        (runs[kind] / "lr~kept").mkdir(parents=True, exist_ok=True)
        (runs[kind] / "lr~kept" / "metrics.json").write_text("{}")
    (runs["rung"] / "lr~rung").mkdir()
    (runs["rung"] / "lr~rung" / "metrics.json").write_text("{}")  # this one is whole
    assert stale_runs(manifests["rung"]) is None
    assert stale_runs(manifests["sweep"]) == ("lists 1 run(s) whose files are gone or "
                                              "changed (lr~sweep)")
    assert "(lr~round)" in stale_runs(manifests["round"])
    write_json(manifests["sweep"], {"dataset": "d"})  # JSON, but not a manifest's shape
    assert stale_runs(manifests["sweep"]).startswith("is damaged (a shard manifest maps")


def test_a_parse_keeps_the_token_it_planned_with_after_the_record_is_removed(tmp_path,
                                                                            capsys):
    """Snakemake asks for a job's params again while running it, after removing the job's
    old output: the job must get, and write, the token it was planned with."""
    sweep = tmp_path / "d" / "m"
    manifest = sweep / "shards" / "0.json"
    write_json(manifest, {"runs": {"lr~1": {}}})
    repairs = Repairs()
    planned = repairs.shard(manifest)
    assert planned and "the train job makes it again" in capsys.readouterr().err
    manifest.unlink()
    assert repairs.shard(manifest) == planned
    assert capsys.readouterr().err == ""  # said once
    quiet = Repairs(report=False)  # a cluster job's parse says nothing
    write_json(manifest, {"runs": {"lr~1": {}}})
    quiet.shard(manifest)
    assert capsys.readouterr().err == ""


def test_a_users_own_file_is_never_read(tmp_path):
    """Only records gdlab names are looked at: Repairs is asked by path, never by glob."""
    notes = tmp_path / "d" / "m" / "my-notes.json"
    notes.parent.mkdir(parents=True)
    notes.write_text("{not json")
    Repairs().token(tmp_path / "d" / "m" / "best.json", "summarize")
    assert notes.read_text() == "{not json"


def test_a_run_file_cut_or_edited_after_training_is_noticed_by_its_size(tmp_path):
    """The manifest records the sizes of a run's content files; a stat finds a cut one."""
    from gdlab.runfiles import file_sizes

    run = tmp_path / "d" / "m" / "runs" / "lr~1"
    run.mkdir(parents=True)
    for name, text in {"model.npz": "PK..", "history.csv": "epoch\n1\n",
                       "metrics.json": '{"a": 1}\n'}.items():
        (run / name).write_text(text)
    manifest = tmp_path / "d" / "m" / "shards" / "0.json"
    write_json(manifest, {"runs": {"lr~1": {"sizes": file_sizes(run)}}})
    assert stale_runs(manifest) is None
    (run / "metrics.json").write_text('{"a"')  # cut short
    assert "(lr~1)" in stale_runs(manifest)
    (run / "metrics.json").write_text('{"a": 2}\n')  # the same size: left to the readers
    assert stale_runs(manifest) is None
    (run / "model.npz").unlink()
    assert "(lr~1)" in stale_runs(manifest)
