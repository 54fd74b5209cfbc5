"""The training loop: devices and autocast, schedules, the NaN guard, callbacks, resume, evaluation."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lottery_lab import train as T
from lottery_lab.data import Batches


def problem(n=96, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = (X[:, :classes]).argmax(1)
    return X, y


def mlp(seed=0, d=6, classes=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, classes))


def batches(X, y, seed=0, batch_size=16):
    g = torch.Generator().manual_seed(seed)
    return Batches(X, y, batch_size, generator=g), g


QUIET = dict(progress=False)


# ------------------------------------------------------------------------------ device selection

def test_device_choice_order_and_errors():
    assert T._pick_device("auto", cuda=True, mps=True) == "cuda"
    assert T._pick_device("auto", cuda=False, mps=True) == "mps"
    assert T._pick_device("auto", cuda=False, mps=False) == "cpu"
    assert T._pick_device("cuda:1", cuda=True, mps=False) == "cuda:1"
    with pytest.raises(ValueError, match="device='cuda'.*not available"):
        T._pick_device("cuda", cuda=False, mps=False)
    with pytest.raises(ValueError, match="device='mps'"):
        T._pick_device("mps", cuda=False, mps=False)
    with pytest.raises(ValueError, match="device='tpu'.*auto, cpu, cuda, mps"):
        T._pick_device("tpu", cuda=True, mps=True)
    assert T.select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert T.select_device("auto").type == "cuda"
    elif not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        assert T.select_device("auto") == torch.device("cpu")


def test_autocast_is_bf16_on_cuda_only():
    assert T.autocast_dtype(torch.device("cuda"), amp=True) == torch.bfloat16
    assert T.autocast_dtype(torch.device("cuda"), amp=False) is None
    assert T.autocast_dtype(torch.device("cpu"), amp=True) is None
    assert T.autocast_dtype(torch.device("mps"), amp=True) is None


def test_amp_flag_is_a_no_op_on_cpu():
    X, y = problem()
    out = []
    for amp in (True, False):
        net = mlp()
        b, g = batches(X, y)
        res = T.train(net, b, T.TrainConfig(epochs=3, amp=amp, **QUIET), generator=g)
        out.append((res.train_loss, [p.detach().clone() for p in net.parameters()]))
    assert out[0][0] == out[1][0]
    assert all(torch.equal(a, b) for a, b in zip(out[0][1], out[1][1]))


def test_autocast_code_path_runs_on_cpu_in_bf16(monkeypatch):
    """Force the CUDA branch's autocast (bf16) onto the CPU: the loop, masks and evaluation work."""
    monkeypatch.setattr(T, "autocast_dtype", lambda device, amp: torch.bfloat16 if amp else None)
    X, y = problem()
    net = mlp()
    seen = []
    net[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    mask = {"0.weight": torch.rand(16, 6, generator=torch.Generator().manual_seed(0)) < 0.5}
    b, g = batches(X, y)
    res = T.train(net, b, T.TrainConfig(epochs=4, **QUIET), masks=mask, generator=g)
    assert seen and all(dt == torch.bfloat16 for dt in seen)
    assert math.isfinite(res.train_loss)
    assert (net[0].weight[~mask["0.weight"]] == 0).all()
    assert net[0].weight.dtype == torch.float32
    acc, loss = T.evaluate(net, X, y)
    assert 0 <= acc <= 1 and math.isfinite(loss)


# ------------------------------------------------------------------------------------- schedules

def test_lr_schedules_by_hand():
    c = T.TrainConfig(schedule="constant")
    assert T.lr_factor(c, 7, 10) == 1.0
    s = T.TrainConfig(schedule="step", milestones=(0.5, 0.75), gamma=0.1)
    assert [T.lr_factor(s, k, 100) for k in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    cos = T.TrainConfig(schedule="cosine")
    assert T.lr_factor(cos, 0, 10) == 1.0
    assert T.lr_factor(cos, 5, 10) == pytest.approx(0.5)
    assert T.lr_factor(cos, 10, 10) == pytest.approx(0.0)


def test_schedule_is_applied_to_every_group():
    X, y = problem()
    net = mlp()
    b, g = batches(X, y)
    lrs = []

    class Spy(T.Callback):
        def after_step(self, state):
            lrs.append([grp["lr"] for grp in state.optimizer.param_groups])

    groups = [{"params": list(net[0].parameters())}, {"params": list(net[2].parameters()), "lr": 1.0}]
    T.train(net, b, T.TrainConfig(epochs=2, lr=0.1, schedule="cosine", **QUIET), param_groups=groups,
            callbacks=[Spy()], generator=g)
    total = 2 * len(b)
    for k, (a, c) in enumerate(lrs):
        f = 0.5 * (1 + math.cos(math.pi * k / total))
        assert a == pytest.approx(0.1 * f) and c == pytest.approx(1.0 * f)


@pytest.mark.parametrize("kw, arg", [
    (dict(epochs=0), "epochs"), (dict(iterations=0), "iterations"),
    (dict(optimizer="lbfgs"), "optimizer"), (dict(schedule="linear"), "schedule"), (dict(lr=-1.0), "lr"),
    (dict(momentum=1.0), "momentum"), (dict(weight_decay=-0.1), "weight_decay"),
    (dict(milestones=(1.5,)), "milestones"), (dict(gamma=0.0), "gamma"),
])
def test_train_config_errors_name_the_argument(kw, arg):
    with pytest.raises(ValueError, match=arg):
        T.TrainConfig(**kw)


# ------------------------------------------------------------------------------- the loop itself

def test_nan_guard_names_round_and_epoch():
    X, y = problem()
    X = X * 1e30
    net = mlp()
    b, g = batches(X, y)
    with pytest.raises(T.TrainingDiverged, match=r"round 3, epoch 1 \(train\)"):
        T.train(net, b, T.TrainConfig(epochs=3, lr=1e3, **QUIET), generator=g, round_index=3)


def test_callback_order_and_penalty_term():
    X, y = problem()
    events = []

    class Rec(T.Callback):
        def on_train_start(self, s): events.append("start")
        def on_loss(self, s, loss):
            events.append("loss")
            return loss + 0.5 * s.model[0].bias.pow(2).sum()   # a penalty the loop must differentiate
        def after_backward(self, s):
            events.append("backward")
            assert s.model[0].bias.grad is not None
        def after_step(self, s): events.append(f"step{s.step}")
        def on_epoch_end(self, s): events.append(f"epoch{s.epoch}")
        def on_train_end(self, s): events.append("end")

    net = mlp()
    b, g = batches(X, y, batch_size=48)  # 2 steps per epoch
    T.train(net, b, T.TrainConfig(epochs=2, **QUIET), callbacks=[Rec()], generator=g)
    assert events == ["start", "loss", "backward", "step1", "loss", "backward", "step2", "epoch1",
                      "loss", "backward", "step3", "loss", "backward", "step4", "epoch2", "end"]

    # the penalty's gradient reaches the parameters: one plain SGD step, compared by hand
    net, ref = mlp(), mlp()
    xb, yb = X[:48], y[:48]
    T.train(net, [(xb, yb)], T.TrainConfig(epochs=1, lr=0.1, momentum=0.0, **QUIET),
            callbacks=[type("P", (T.Callback,), {"on_loss": lambda self, s, l: l + 0.5 * s.model[0].bias.pow(2).sum()})()])
    loss = F.cross_entropy(ref(xb), yb) + 0.5 * ref[0].bias.pow(2).sum()
    loss.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(net.parameters(), ref.parameters()))


def test_resume_from_an_epoch_checkpoint_is_bit_identical():
    X, y = problem()
    cfg = T.TrainConfig(epochs=4, schedule="cosine", weight_decay=1e-3, **QUIET)
    mask = {"2.weight": torch.rand(3, 16, generator=torch.Generator().manual_seed(3)) < 0.7}
    saved = {}

    class Save(T.Callback):
        def on_epoch_end(self, s):
            if s.epoch == 2:
                saved["state"] = copy.deepcopy(s.state_dict())

    net = mlp()
    b, g = batches(X, y)
    straight = T.train(net, b, cfg, masks=mask, callbacks=[Save()], generator=g, seed=5)

    net2 = mlp(seed=99)                       # different weights: the checkpoint must overwrite them
    b2, g2 = batches(X, y, seed=42)           # different generator state: likewise
    torch.manual_seed(1234)                   # and the global RNG is forked and restored inside
    resumed = T.train(net2, b2, cfg, masks=mask, generator=g2, seed=5, resume=saved["state"])
    assert resumed.train_loss == straight.train_loss and resumed.steps == straight.steps
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), net2.parameters()))


def test_start_step_replays_the_data_order_of_an_uninterrupted_run():
    X, y = problem(n=80)
    ids = torch.arange(len(X), dtype=torch.float32)

    def run(start):
        seen = []
        net = mlp()
        net[0].register_forward_pre_hook(lambda mod, inp: seen.append(inp[0][:, -1].tolist()))
        b, g = batches(torch.cat([X, ids[:, None]], 1)[:, 1:], y, batch_size=16)
        T.train(net, b, T.TrainConfig(epochs=3, **QUIET), generator=g, start_step=start)
        return seen

    full, late = run(0), run(7)             # 5 batches per epoch: step 7 is inside epoch 2
    assert len(full) == 15 and late == full[7:]


def test_global_rng_of_the_caller_is_untouched():
    X, y = problem()
    net = mlp()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    b, g = batches(X, y)
    T.train(net, b, T.TrainConfig(epochs=1, **QUIET), generator=g)
    assert torch.equal(torch.rand(3), expected)


def test_evaluate_against_a_hand_computation():
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(2))
    X = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 5.0]])
    y = torch.tensor([0, 1, 1, 1])            # the third is wrong: 3/4 correct
    acc, loss = T.evaluate(lin, X, y, batch_size=3)
    assert acc == 0.75
    assert loss == pytest.approx(F.cross_entropy(X, y).item(), rel=1e-6)
    with pytest.raises(ValueError, match="same"):
        T.evaluate(lin, X, y[:2])


def test_iterations_override_epochs_and_bad_start_step():
    X, y = problem()
    b, g = batches(X, y)
    res = T.train(mlp(), b, T.TrainConfig(epochs=9, iterations=8, **QUIET), generator=g)
    assert res.steps == 8
    with pytest.raises(ValueError, match="start_step"):
        T.train(mlp(), b, T.TrainConfig(epochs=1, **QUIET), generator=g, start_step=100)


# ------------------------------------------------------------------------------- the optimiser

@pytest.mark.parametrize("kw", [
    dict(momentum=0.9), dict(momentum=0.9, weight_decay=5e-4), dict(momentum=0.9, dampening=0.3),
    dict(momentum=0.8, nesterov=True, weight_decay=1e-3), dict(), dict(weight_decay=1e-2, maximize=True),
])
def test_foreach_sgd_equals_torch_sgd_to_the_last_bit(kw):
    """300 steps with changing lr, two groups, a parameter without gradient at some steps."""
    g = torch.Generator().manual_seed(0)
    shapes = [(7, 5), (5,), (3, 7), (3,)]
    init = [torch.randn(s, generator=g) for s in shapes]
    grads = [[torch.randn(s, generator=g) for s in shapes] for _ in range(300)]
    runs = []
    for cls in (torch.optim.SGD, T.ForeachSGD):
        ps = [torch.nn.Parameter(t.clone()) for t in init]
        opt = cls([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.05}], lr=0.1, **kw)
        for k, gs in enumerate(grads):
            for i, (p, gr) in enumerate(zip(ps, gs)):
                p.grad = None if (k % 7 == 3 and i == 1) else gr.clone()
            opt.param_groups[0]["lr"] = 0.1 * (1 - k / 300)
            opt.step()
        runs.append(ps)
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_foreach_sgd_state_dict_round_trips_with_torch_sgd():
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    ref = torch.optim.SGD(ps, lr=0.1, momentum=0.9)
    ours = T.ForeachSGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = torch.randn_like(p)
    ref.step()
    ours.load_state_dict(ref.state_dict())          # a torch checkpoint resumes with ForeachSGD ...
    for p in ps:
        assert torch.equal(ours.state[p]["momentum_buffer"], ref.state[p]["momentum_buffer"])
    back = torch.optim.SGD(ps, lr=0.1, momentum=0.9)
    back.load_state_dict(ours.state_dict())         # ... and ForeachSGD's in torch's SGD
    assert back.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    for p in ps:
        assert torch.equal(back.state[p]["momentum_buffer"], ref.state[p]["momentum_buffer"])
    with pytest.raises(ValueError, match="groups do not match"):
        T.ForeachSGD(ps[:1], lr=0.1).load_state_dict(ref.state_dict())
    with pytest.raises(TypeError, match="betas"):
        T.ForeachSGD(ps, lr=0.1, betas=(0.9, 0.99))


def test_the_cpu_training_step_does_not_import_dynamo():
    import subprocess
    import sys

    code = ("import sys, torch; from torch import nn; from lottery_lab import train as T; "
            "from lottery_lab.data import Batches; net = nn.Linear(4, 2); X = torch.randn(8, 4); "
            "T.train(net, Batches(X, torch.zeros(8, dtype=torch.long), 4), T.TrainConfig(epochs=1, progress=False)); "
            "T.evaluate(net, X, torch.zeros(8, dtype=torch.long)); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
