"""Reliability matrix for ingest (issue 10, items 4, 7 and 8): damaged archives and parquet files,
unreadable files and non-UTF-8 names become rejects with a reason while the rest proceeds;
pixel and aspect limits reject images before curation can meet them; temp files of a killed
ingest are swept by the next one, under the run's lock. One test per promise."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataigm.cli import main
from dataigm.ingest import IngestSource, ingest
from tests.curation_fixtures import scene
from tests.oddfiles import _png_bomb

RAW_NAME = b"caf\xe9 photo.jpg"   # Latin-1 bytes: not valid UTF-8


def _jpeg(seed: int, size: int = 96) -> bytes:
    buf = io.BytesIO()
    scene(seed, size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _tar(path: Path, mode: str, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def build_damaged_folder(folder: Path) -> None:
    """Good files next to every kind of damage ingest meets in the wild."""
    folder.mkdir(parents=True)
    (folder / "good_1.jpg").write_bytes(_jpeg(1))
    (folder / "good_2.jpg").write_bytes(_jpeg(2))
    (folder / os.fsdecode(RAW_NAME)).write_bytes(_jpeg(3))
    # Tar cut in the middle of its second member: the first member is intact.
    _tar(folder / "cut.tar", "w", [("k1.jpg", _jpeg(4)), ("k2.jpg", _jpeg(5)), ("k3.jpg", _jpeg(6))])
    data = (folder / "cut.tar").read_bytes()
    (folder / "cut.tar").write_bytes(data[: 2 * 512 + len(_jpeg(4)) + 1500])
    # Gzip stream cut in half.
    _tar(folder / "cut.tar.gz", "w:gz", [(f"g{i}.jpg", _jpeg(10 + i)) for i in range(4)])
    data = (folder / "cut.tar.gz").read_bytes()
    (folder / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    # Parquet without its footer.
    pq.write_table(pa.table({"image": [_jpeg(20), _jpeg(21)]}), folder / "footer.parquet")
    data = (folder / "footer.parquet").read_bytes()
    (folder / "footer.parquet").write_bytes(data[:-20])
    # Parquet whose second row group's page header is garbage (the footer is intact).
    path = folder / "rowgroup.parquet"
    pq.write_table(pa.table({"image": [_jpeg(30 + i) for i in range(4)]}), path, row_group_size=2,
                   compression="none")
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """The damaged folder ingested by the CLI: (folder, run, exit code, stdout, rejects, rows)."""
    root = tmp_path_factory.mktemp("damaged")
    folder = root / "church"
    build_damaged_folder(folder)
    run = root / "run"
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["ingest", str(run), str(folder), "--concept", "object_church", "--source", "crawl",
                     "--label", "church", "--quiet"])
    rejects = {r["origin"]: r for r in pq.read_table(run / "ingest" / "crawl" / "rejected.parquet").to_pylist()}
    rows = {r["origin"]: r for r in pq.read_table(run / "manifest.parquet").to_pylist()}
    return folder, run, code, out.getvalue(), rejects, rows


def test_folder_with_truncated_tar_and_non_utf8_name_ingests_everything_else_with_exit_0(damaged):
    _, _, code, out, rejects, rows = damaged
    assert code == 0
    assert sorted(rows) == ["church/caf\\xe9 photo.jpg", "church/cut.tar#k1", "church/cut.tar.gz#g0",
                            "church/good_1.jpg", "church/good_2.jpg", "church/rowgroup.parquet#row=0",
                            "church/rowgroup.parquet#row=1"]
    assert sorted(rejects) == ["church/cut.tar#k2", "church/cut.tar.gz#g1", "church/footer.parquet",
                               "church/rowgroup.parquet#row=2"]
    assert "7 accepted" in out and "4 rejected" in out


def test_tar_truncated_inside_a_member_is_a_reject_after_its_intact_members(damaged):
    _, _, _, _, rejects, rows = damaged
    assert "church/cut.tar#k1" in rows and "church/cut.tar#k3" not in rows
    assert rejects["church/cut.tar#k2"]["reason"] == "truncated_tar"
    assert rejects["church/cut.tar#k2"]["detail"] == "unexpected end of data"


def test_truncated_gzip_stream_is_a_reject(damaged):
    _, _, _, _, rejects, rows = damaged
    # The members before the cut are ingested; the reject names the member being read.
    assert "church/cut.tar.gz#g0" in rows and not any(o.startswith("church/cut.tar.gz#g3") for o in rows)
    assert rejects["church/cut.tar.gz#g1"]["reason"] == "truncated_tar"


def test_parquet_with_a_broken_footer_is_a_reject(damaged):
    _, _, _, _, rejects, _ = damaged
    assert rejects["church/footer.parquet"]["reason"] == "unreadable_parquet"
    assert "magic bytes" in rejects["church/footer.parquet"]["detail"]


def test_parquet_with_a_broken_row_group_keeps_the_rows_before_it(damaged):
    _, _, _, _, rejects, rows = damaged
    assert {"church/rowgroup.parquet#row=0", "church/rowgroup.parquet#row=1"} <= set(rows)
    assert rejects["church/rowgroup.parquet#row=2"]["reason"] == "unreadable_parquet"
    assert rejects["church/rowgroup.parquet#row=2"]["detail"].isprintable()


def test_non_utf8_file_name_is_stored_under_a_safe_name_with_its_raw_name_and_a_row(damaged):
    _, run, _, _, _, rows = damaged
    raw = RAW_NAME.decode("utf-8", "backslashreplace")
    row = rows[f"church/{raw}"]  # the undecodable byte kept as a \xNN escape
    assert row["origin"] == "church/caf\\xe9 photo.jpg"
    assert (run / row["path"]).read_bytes() == _jpeg(3)
    assert Path(row["path"]).name == f"{row['source_sha256']}.jpg"
    # Every image written has its row: no orphan file.
    stored = {p.relative_to(run).as_posix() for p in (run / "images").rglob("*") if p.is_file()}
    assert stored == {r["path"] for r in rows.values()}


def _without_root_read(cmd: list[str]) -> list[str]:
    """Root reads any file; drop its file-permission override so a mode-000 file is unreadable."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to make a file unreadable"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]


def test_unreadable_file_is_a_reject_and_the_rest_proceeds(tmp_path):
    folder = tmp_path / "church"
    folder.mkdir()
    (folder / "readable.jpg").write_bytes(_jpeg(40))
    locked = folder / "locked.jpg"
    locked.write_bytes(_jpeg(41))
    locked.chmod(0)
    run = tmp_path / "run"
    try:
        proc = subprocess.run(_without_root_read([sys.executable, "-m", "dataigm", "ingest", str(run), str(folder),
                                                  "--concept", "object_church", "--source", "s", "--label", "church",
                                                  "--quiet"]), capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    assert "1 accepted" in proc.stdout and "rejected unreadable: 1" in proc.stdout
    rejects = pq.read_table(run / "ingest" / "s" / "rejected.parquet").to_pylist()
    assert [(r["origin"], r["reason"], r["detail"]) for r in rejects] == [("church/locked.jpg", "unreadable",
                                                                           "Permission denied")]


def test_80_megapixel_line_image_is_rejected_at_ingest_so_curate_never_sees_it(tmp_path):
    from dataigm.curation import curate

    folder = tmp_path / "church"
    folder.mkdir()
    line = _png_bomb(80_000_000, 1)
    assert len(line) < 100_000  # a small file that claims 80,000,000 x 1 pixels
    (folder / "line.png").write_bytes(line)
    (folder / "photo.jpg").write_bytes(_jpeg(50, 128))
    run = tmp_path / "run"
    report = ingest(run, IngestSource(concept="object_church", source="s", paths=[str(folder)], label="church"),
                    progress=False)
    assert report.accepted == 1 and report.reasons == {"aspect_ratio": 1}
    result = curate(run, progress=False)
    assert result.manifest_rows == 1 and result.kept == 1


def test_pixel_and_aspect_limits_have_config_defaults_and_can_be_set(tmp_path, cli):
    folder = tmp_path / "church"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(_jpeg(60, 128))          # 16,384 pixels, 1:1
    wide = io.BytesIO()
    scene(61, 64).resize((200, 20)).save(wide, "PNG")           # 4,000 pixels, 10:1
    (folder / "wide.png").write_bytes(wide.getvalue())
    code, out, _ = cli("ingest", tmp_path / "r0", folder, "--concept", "object_church", "--source", "s",
                       "--label", "church", "--print-config")
    assert code == 0 and "max_pixels: 89478485" in out and "max_aspect: 20.0" in out
    code, out, _ = cli("ingest", tmp_path / "r1", folder, "--concept", "object_church", "--source", "s",
                       "--label", "church", "--quiet", "--set", "max_pixels=10000", "--set", "max_aspect=4")
    assert code == 0 and "0 accepted" in out
    assert "rejected decompression_bomb: 1" in out and "rejected aspect_ratio: 1" in out
    code, _, err = cli("ingest", tmp_path / "r2", folder, "--concept", "object_church", "--source", "s",
                       "--set", "max_aspect=0.5")
    assert code == 2 and err.count("\n") == 1 and "max_aspect: must be >= 1" in err


def _plant_temp_files(run: Path) -> list[Path]:
    """What a kill -9 leaves mid-write: temp files next to images, the reject list and shards."""
    planted = [run / "images" / "object_church" / "ingest-s" / "ab" / ".abcd.jpg.x1y2z3.tmp",
               run / "ingest" / "s" / ".rejected.parquet.q9w8e7.tmp",
               run / "shards" / ".ingest-object_church-s-00000.parquet.k3j4h5.tmp"]
    for p in planted:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half written")
    return planted


def test_temp_files_of_a_killed_ingest_are_swept_by_the_next_one_under_the_lock(tmp_path):
    folder = tmp_path / "church"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_jpeg(70))
    run = tmp_path / "run"
    planted = _plant_temp_files(run)
    # While another process holds the run's lock, an ingest is refused and sweeps nothing.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from dataigm.io import RunLock\n"
                               f"with RunLock({str(run)!r}):\n    print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = subprocess.run([sys.executable, "-m", "dataigm", "ingest", str(run), str(folder), "--concept",
                               "object_church", "--source", "s", "--label", "church", "--quiet"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and f"in use by pid {holder.pid}" in proc.stderr
        assert all(p.exists() for p in planted)
    finally:
        holder.kill()
        holder.wait()
    report = ingest(run, IngestSource(concept="object_church", source="s", paths=[str(folder)], label="church"),
                    progress=False)
    assert report.swept == len(planted) and not any(p.exists() for p in planted)
    assert report.accepted == 1 and not list(run.rglob("*.tmp"))


def test_kill_9_during_ingest_then_rerun_completes_with_nothing_left_over(tmp_path):
    folder = tmp_path / "church"
    folder.mkdir()
    for i in range(200):
        (folder / f"{i:03d}.png").write_bytes(_png_bytes(i))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "dataigm", "ingest", str(run), str(folder), "--concept",
                             "object_church", "--source", "s", "--label", "church", "--quiet", "--shard-size", "7"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while proc.poll() is None and not list((run / "shards").glob("*.done") if (run / "shards").exists() else []):
        assert time.time() < deadline
        time.sleep(0.01)
    assert proc.poll() is None, "ingest ended before the kill; make the workload bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    report = ingest(run, IngestSource(concept="object_church", source="s", paths=[str(folder)], label="church",
                                      shard_size=7), progress=False)
    assert report.already_present >= 7 and report.accepted + report.already_present == 200
    assert pq.read_table(run / "manifest.parquet").num_rows == 200
    assert not list(run.rglob("*.tmp"))


def _png_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    scene(seed, 64).save(buf, "PNG")
    return buf.getvalue()
