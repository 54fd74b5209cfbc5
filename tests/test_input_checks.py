"""Inputs are taken as given or refused: no ``bool()`` of a string, no ``True`` read as 1, no density
of an empty mask; archives cannot write outside their folder; the assignments command finds the
instructor notebooks from any working directory."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lottery_lab import cli, data, methods
from lottery_lab.lottery import LotteryConfig
from lottery_lab.methods.lagrangian import DensityMultipliers
from lottery_lab.train import TrainConfig


@pytest.mark.parametrize("kw", [{"per_layer": "false"}, {"per_layer": "False"}, {"dual_restarts": "no"},
                                {"per_layer": 0}, {"dual_restarts": None}])
def test_l0_flags_must_be_bools(kw):
    (name, value), = kw.items()
    with pytest.raises(TypeError, match=f"{name}={value!r} must be True or False"):
        methods.get("l0", **kw)


def test_l0_flags_from_the_command_line(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--method", "l0", "--method-kw", '{"per_layer": "false"}', "--out-dir", "none"])
    assert exc.value.code == 2
    assert "per_layer='false' must be True or False" in capsys.readouterr().err


def test_l0_real_bools_still_work():
    m = methods.get("l0", per_layer=True, dual_restarts=False, target_density=0.1)
    assert m.per_layer is True and m.dual_restarts is False


def test_density_multipliers_restarts_must_be_a_bool():
    with pytest.raises(TypeError, match="restarts='yes'"):
        DensityMultipliers({"all": 0.1}, restarts="yes")


@pytest.mark.parametrize("kw, arg", [
    (dict(epochs=True), "epochs"), (dict(batch_size=True), "batch_size"), (dict(iterations=True), "iterations"),
    (dict(lr=True), "lr"), (dict(momentum="0.9"), "momentum"), (dict(milestones=0.5), "milestones"),
    (dict(amp="false"), "amp"), (dict(progress="no"), "progress"), (dict(reinit="false"), "reinit"),
])
def test_config_fields_of_the_wrong_kind_are_type_errors(kw, arg):
    with pytest.raises(TypeError, match=f"^{arg}="):
        LotteryConfig(out_dir=None, **kw)


def test_train_config_true_is_not_one_epoch():
    with pytest.raises(TypeError, match="epochs=True must be an integer >= 1, got bool"):
        TrainConfig(epochs=True)
    assert TrainConfig(epochs=1).epochs == 1


def test_iterations_zero_blames_iterations_not_rewind_iter():
    with pytest.raises(ValueError, match="^iterations=0 must be"):
        LotteryConfig(iterations=0, out_dir=None)


def test_model_and_data_options_are_checked_in_the_config():
    # unknown keyword arguments are TypeErrors, as the calls they are forwarded to raise (issue 12)
    with pytest.raises(TypeError, match=r"unknown option\(s\) widht"):
        LotteryConfig(model_kw={"widht": 0.5}, out_dir=None)
    with pytest.raises(TypeError, match="data_kw got unknown key\\(s\\) foo"):
        LotteryConfig(data_kw={"foo": 1}, out_dir=None)


# ---------------------------------------------------------------------------------- archives

def _tar(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_safe_extract_refuses_a_sibling_with_the_same_prefix(tmp_path):
    """``../<dest>EVIL/x`` resolves to a sibling whose path starts with the destination's string."""
    dest = tmp_path / ".download-abc"
    dest.mkdir()
    archive = _tar(tmp_path, {"ok.txt": b"fine", "../.download-abcEVIL/x": b"escaped"})
    with tarfile.open(archive) as tar, pytest.raises(ValueError, match="refusing to extract"):
        data._safe_extract(tar, dest)
    assert not (tmp_path / ".download-abcEVIL").exists()


def test_safe_extract_refuses_links_and_takes_plain_members(tmp_path):
    dest = tmp_path / "d"
    dest.mkdir()
    path = tmp_path / "l.tar"
    with tarfile.open(path, "w") as tar:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with tarfile.open(path) as tar, pytest.raises(ValueError, match="'link'"):
        data._safe_extract(tar, dest)
    with tarfile.open(_tar(tmp_path, {"sub/x.bin": b"123"})) as tar:
        data._safe_extract(tar, dest)
    assert (dest / "sub" / "x.bin").read_bytes() == b"123"


# ------------------------------------------------------------------------------- assignments

def test_assignments_build_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # not the repository root
    assert cli.main(["assignments", "build", "students"]) == 0
    built = sorted(p.name for p in (tmp_path / "students").glob("*.ipynb"))
    source = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
    assert built == sorted(p.name for p in source.glob("*.ipynb")) and built


def test_assignments_without_a_checkout_say_so(tmp_path, monkeypatch, capsys):
    from lottery_lab.cli import assignments as assignments_cli

    monkeypatch.setattr(assignments_cli, "DEFAULT_SOURCE", tmp_path / "site-packages" / "notebooks" / "assignments")
    with pytest.raises(SystemExit) as exc:
        cli.main(["assignments", "build", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "not installed with the package" in err and "--source" in err
    assert not (tmp_path / "out").exists()
