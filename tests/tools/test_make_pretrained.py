"""tools/make_pretrained.py's records: a finished stage keeps the command that produced it."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.tools.scripts import load_tool


@pytest.fixture(autouse=True)
def _data_variable_restored():
    """make_pretrained's main() exports HADAMARD_RESTORE_DATA (its --data) for its stages; the caller's value
    (or its absence: monkeypatch.delenv of an unset variable records nothing to undo) is put back after
    each test, so later tests' ``data_root`` still finds the real data."""
    before = os.environ.pop("HADAMARD_RESTORE_DATA", None)
    yield
    os.environ.pop("HADAMARD_RESTORE_DATA", None)
    if before is not None:
        os.environ["HADAMARD_RESTORE_DATA"] = before


def test_a_stage_done_already_keeps_its_recorded_command(tmp_path):
    tool = load_tool("make_pretrained")
    header = "# data: /d\n# held-out split: /r/heldout.json; development split: /r/dev.json\n"
    ran = "hadamard-restore train cfg.yaml --set train.val_max_images=6 --out /r/train"
    (tmp_path / "commands.txt").write_text(f"{header}\n# train\n{ran}\n")
    (tmp_path / "done").write_text("")
    recorded = tool.recorded_commands(tmp_path)
    assert recorded == {"": header, "train": ran}
    lines = [recorded[""]]
    argv = ["/venv/bin/hadamard-restore", "train", "cfg.yaml", "--set", "train.val_max_images=null"]
    tool.stage(tmp_path, "train", argv, tmp_path / "done", lines, recorded)  # done: nothing runs
    assert (tmp_path / "commands.txt").read_text() == f"{header}\n# train\n{ran}\n"
    tool.stage(tmp_path, "evaluate", ["/venv/bin/hadamard-restore", "--version"], tmp_path / "done", lines, {})
    assert (tmp_path / "commands.txt").read_text().endswith("# evaluate\nhadamard-restore --version\n")


def test_a_failing_stage_is_a_clear_error_naming_its_log_not_a_traceback(tmp_path):
    tool = load_tool("make_pretrained")
    argv = [sys.executable, "-c", "import sys; print('loss is nan at step 7'); sys.exit(3)"]
    with pytest.raises(tool.StageFailed) as info:
        tool.stage(tmp_path, "train", argv, tmp_path / "never-written", [""], {})
    message = str(info.value)
    assert "stage 'train' failed (exit status 3)" in message
    assert str(tmp_path / "train.log") in message and "loss is nan at step 7" in message
    assert "resumes from its last checkpoint" in message
    assert not (tmp_path / "timings.json").exists()  # a failed stage records no wall time


def test_search_set_reaches_the_search_stages_and_the_recorded_command(tmp_path, monkeypatch):
    """``--search-set search.architecture=search`` runs the paper's pipeline where the config's default
    is a fixed architecture: it goes into the classifier and search commands (not training's) and into
    reproduce.txt, which is the model card's one reproducing command."""
    tool = load_tool("make_pretrained")
    ran: dict[str, list[str]] = {}
    monkeypatch.setattr(tool, "make_splits", lambda *a: None)
    monkeypatch.setattr(tool, "stage", lambda out, name, argv, *rest: ran.__setitem__(name, argv))
    monkeypatch.setattr(tool, "training_loss_weights", lambda out, keep: out / "train_loss_weights.json")
    out = tmp_path / "run"
    argv = ["make_pretrained.py", "underwater", "--out", str(out), "--data", str(tmp_path)]
    argv += ["--search-set", "search.architecture=search", "--train-set", "train.steps=50"]
    monkeypatch.setattr(sys, "argv", argv)
    tool.main()
    for name in ("classifier", "search"):
        assert "search.architecture=search" in ran[name], name
    assert "search.architecture=search" not in ran["train"] and "train.steps=50" in ran["train"]
    assert "train.steps=50" not in ran["search"]
    assert (out / "reproduce.txt").read_text() == (
        "python tools/make_pretrained.py underwater --out RUN_DIR "
        "--search-set search.architecture=search --train-set train.steps=50\n"
    )


def test_searches_move_beta_and_training_drops_tv_and_laplacian_unless_kept(tmp_path, monkeypatch):
    """The studies' pipeline: the searches run at upper_lr 0.01 (a user's --search-set comes after and
    wins), training reads the searched weights with TV and Laplacian at 0 (written once, the other seven
    weights unchanged), and --keep-tv-laplacian trains with the searched file and is in reproduce.txt.
    A bundled model that trained with its searched TV > 0 predates this (and ran at upper_lr 5e-4), so its
    card's reproduce line says both; one that trained with TV at 0 is the plain pipeline's."""
    from hadamard_restore.losses.loss_weights import load_loss_weights

    tool = load_tool("make_pretrained")
    out = tmp_path / "run"
    searched = load_loss_weights("equal").save(out / "search" / "loss_weights.json")
    derived = tool.training_loss_weights(out, ("tv", "laplacian"))
    lw, before = load_loss_weights(derived), load_loss_weights(searched)
    assert lw.weights == {n: (0.0 if n in ("tv", "laplacian") else w) for n, w in before.weights.items()}
    assert before.weights["tv"] > 0 and "without tv, laplacian" in lw.name
    first = derived.read_bytes()
    assert tool.training_loss_weights(out, ("tv", "laplacian")).read_bytes() == first  # once, same bytes
    assert tool.training_loss_weights(out, ()) == searched

    ran: dict[str, list[str]] = {}
    monkeypatch.setattr(tool, "make_splits", lambda *a: None)
    monkeypatch.setattr(tool, "stage", lambda out, name, argv, *rest: ran.__setitem__(name, argv))
    # the terms dropped are the config's loss.searched_without: [] (a --train-set) trains as searched too
    kept_by_config = ["--train-set", "loss.searched_without=[]"]
    for extra in ([], ["--search-set", "search.upper_lr=5e-4", "--keep-tv-laplacian"], kept_by_config):
        ran.clear()
        argv = ["make_pretrained.py", "dehaze", "--out", str(out), "--data", str(tmp_path), *extra]
        monkeypatch.setattr(sys, "argv", argv)
        tool.main()
        lrs = [a for a in ran["search"] if a.startswith("search.upper_lr=")]
        weights = ran["train"][ran["train"].index("--loss-weights") + 1]
        if not extra:
            assert lrs == ["search.upper_lr=0.01"] and weights == str(derived)
        elif extra == kept_by_config:
            assert lrs == ["search.upper_lr=0.01"] and weights == str(searched)
        else:
            assert lrs[-1] == "search.upper_lr=5e-4" and weights == str(searched)
        (out / "reproduce.txt").unlink()
    assert tool.reproducing_command("dehaze", [], [], keep_tv_laplacian=True).endswith(" --keep-tv-laplacian")
    kept = {}
    for name in ("low-light", "underwater", "dehaze"):
        card = json.loads((tool.REPO / f"src/hadamard_restore/resources/models/{name}/card.json").read_text())
        reproduce, kept[name] = card["commands"]["reproduce"], card["loss"]["weights"]["tv"] > 0
        assert reproduce.endswith(" --keep-tv-laplacian") == kept[name], name
        assert ("--search-set search.upper_lr=5e-4" in reproduce) == kept[name], name
        if not kept[name]:
            assert card["loss"]["searched_weights"]["tv"] > 0, name  # searched, then set to 0 for training
    assert kept == {"low-light": False, "underwater": True, "dehaze": True}


def test_a_bad_override_is_refused_before_any_stage_runs(tmp_path, monkeypatch):
    tool = load_tool("make_pretrained")
    from hadamard_restore.config import ConfigError

    monkeypatch.setattr(tool, "stage", lambda *a: pytest.fail("no stage may run after a bad override"))
    out = tmp_path / "run"
    for flag, item in (("--search-set", "search.architecure=search"), ("--train-set", "train.steps=many")):
        argv = ["make_pretrained.py", "dehaze", "--out", str(out), "--data", str(tmp_path), flag, item]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(ConfigError):
            tool.main()
        assert not out.exists()  # nothing written: not even the output folder
    from hadamard_restore.errors import LossWeightsError

    argv = ["make_pretrained.py", "dehaze", "--out", str(out), "--data", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [*argv, "--train-set", "loss.searched_without=[tvv]"])
    with pytest.raises(LossWeightsError, match="loss.searched_without: unknown loss terms"):
        tool.main()
    assert not out.exists()


def test_low_light_trains_the_recipe_its_bundled_model_was_chosen_with(tmp_path, monkeypatch):
    """low-light adds 1 x 128 px crops and resize-convolution up-samplers after the shared recipe (the
    last setting wins), the bundled model's training recipe; a user's --train-set still comes last, and
    the other tasks keep the shared recipe. The plain command searches the architecture in the config's
    global space, and the bundled model is that command's run."""
    tool = load_tool("make_pretrained")
    ran: dict[str, dict[str, list[str]]] = {}
    monkeypatch.setattr(tool, "make_splits", lambda *a: None)
    monkeypatch.setattr(tool, "training_loss_weights", lambda out, keep: out / "train_loss_weights.json")
    for task, extra in (("low-light", []), ("low-light", ["--train-set", "net.upsample=transpose"]), ("dehaze", [])):
        got: dict[str, list[str]] = {}
        monkeypatch.setattr(tool, "stage", lambda out, name, argv, *rest, got=got: got.__setitem__(name, argv))
        argv = ["make_pretrained.py", task, "--out", str(tmp_path / task), "--data", str(tmp_path), *extra]
        monkeypatch.setattr(sys, "argv", argv)
        tool.main()
        ran[f"{task}{extra}"] = got

    def last(argv: list[str], key: str) -> str:
        return [a for a in argv if a.startswith(key + "=")][-1]

    plain = ran["low-light[]"]["train"]
    assert (
        last(plain, "train.batch_size") == "train.batch_size=1" and last(plain, "net.upsample") == "net.upsample=resize"
    )
    mine = ran["low-light['--train-set', 'net.upsample=transpose']"]["train"]
    assert last(mine, "net.upsample") == "net.upsample=transpose"
    dehaze = ran["dehaze[]"]["train"]
    assert last(dehaze, "train.batch_size") == "train.batch_size=2" and not any("net.upsample" in a for a in dehaze)
    assert not any("search.architecture" in a or "net.space" in a for a in ran["low-light[]"]["search"])
    card = json.loads((tool.REPO / "src/hadamard_restore/resources/models/low-light/card.json").read_text())
    assert card["budget"]["train"]["batch_size"] == 1 and card["net"]["upsample"] == "resize"
    assert "globalres_1x1" in card["genotype"]["layers"].values()  # searched in the global space
    assert card["commands"]["reproduce"] == "python tools/make_pretrained.py low-light --out RUN_DIR"


def test_init_from_fine_tunes_the_bundled_model_without_searching(tmp_path, monkeypatch):
    """``--init-from dehaze``: no classifier or search stage; the bundled card and weights are copied to
    RUN_DIR/source (sha256 as the card says) and training starts from that copy with the model's own
    genotype and loss weights; the reproducing command says so."""
    import shutil

    from hadamard_restore.artifacts import sha256_file
    from hadamard_restore.zoo.registry import heldout_split_path, read_card

    tool = load_tool("make_pretrained")
    ran: dict[str, list[str]] = {}
    monkeypatch.setattr(
        tool, "make_splits", lambda task, cfg, root, out: shutil.copy(heldout_split_path("dehaze"), out)
    )
    monkeypatch.setattr(tool, "stage", lambda out, name, argv, *rest: ran.__setitem__(name, argv))
    out = tmp_path / "run"
    argv = ["make_pretrained.py", "dehaze", "--out", str(out), "--data", str(tmp_path), "--init-from", "dehaze"]
    monkeypatch.setattr(sys, "argv", [*argv, "--train-set", "train.lr=3e-4"])
    tool.main()
    assert list(ran) == ["train", "evaluate"]
    weights = out / "source" / "model.pt"
    assert ran["train"][ran["train"].index("--init-from") + 1] == str(weights)
    assert "--genotype" not in ran["train"] and "--loss-weights" not in ran["train"]
    assert "train.lr=3e-4" in ran["train"]
    card = read_card("dehaze")
    assert sha256_file(weights) == card["weights"]["sha256"]
    assert json.loads((out / "source" / "card.json").read_text()) == card
    assert (out / "reproduce.txt").read_text() == (
        "python tools/make_pretrained.py dehaze --out RUN_DIR --init-from dehaze --train-set train.lr=3e-4\n"
    )


def test_init_from_refuses_a_model_held_out_on_other_pairs_or_of_another_task(tmp_path, monkeypatch):
    """A bundled model held out on other pairs may have trained on this run's held-out pairs: refused
    before any stage, as is another task's model and a search setting that would search nothing."""
    import shutil

    from hadamard_restore.zoo.registry import heldout_split_path

    tool = load_tool("make_pretrained")
    monkeypatch.setattr(tool, "stage", lambda *a: pytest.fail("no stage may run"))
    out = tmp_path / "run"

    def splits(task, cfg, root, out_dir):
        held = json.loads(heldout_split_path("dehaze").read_text())
        held["val"] = held["val"][1:]  # one held-out pair fewer: another split
        (out_dir / "heldout.json").write_text(json.dumps(held))

    monkeypatch.setattr(tool, "make_splits", splits)
    base = ["make_pretrained.py", "dehaze", "--out", str(out), "--data", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [*base, "--init-from", "dehaze"])
    with pytest.raises(tool.HadamardRestoreError, match="held out on other pairs"):
        tool.main()
    assert not (out / "source").exists()
    monkeypatch.setattr(tool, "make_splits", lambda task, cfg, root, o: shutil.copy(heldout_split_path("dehaze"), o))
    monkeypatch.setattr(sys, "argv", [*base, "--init-from", "underwater"])
    with pytest.raises(tool.HadamardRestoreError, match="that model restores underwater, not dehaze"):
        tool.main()
    monkeypatch.setattr(sys, "argv", [*base, "--init-from", "dehaze", "--search-set", "search.upper_lr=1e-3"])
    with pytest.raises(SystemExit):
        tool.main()
