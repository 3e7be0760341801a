"""Parameter-efficient ensembles (TabM-mini): the modules, the members' loss, the estimator's n_ensemble_members."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification

from imbsk import ImbalancedMLPClassifier
from imbsk.models.ensemble import MemberHeads, MemberScaling, mean_member_log_proba, member_gradient
from imbsk.models.tabular import TabularMLP
from imbsk.techniques.losses import build_loss
from imbsk.training.net import ImbalanceNet

FAST = dict(hidden_layer_sizes=(32,), d_embedding=8, n_frequencies=8, batch_size=32, device="cpu")
CARDS = [3, 4]


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=5, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=0
    )
    return X, y


def _inputs(n=12, n_num=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(n, n_num, generator=g)
    x_cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], dim=1)
    return x_num, x_cat


def test_member_scaling_starts_as_random_signs():
    torch.manual_seed(0)
    scaling = MemberScaling(8, 50)
    assert set(scaling.weight.detach().unique().tolist()) == {-1.0, 1.0}
    x = torch.randn(3, 50)
    out = scaling(x)
    assert out.shape == (3, 8, 50)
    torch.testing.assert_close(out[:, 5], x * scaling.weight[5])
    # the members differ from the start
    assert not torch.equal(scaling.weight[0], scaling.weight[1])


def test_member_heads_are_independent_linear_maps():
    torch.manual_seed(0)
    heads = MemberHeads(4, 6, 3)
    x = torch.randn(5, 4, 6)
    out = heads(x)
    assert out.shape == (5, 4, 3)
    for m in range(4):
        torch.testing.assert_close(out[:, m], x[:, m] @ heads.weight[m] + heads.bias[m])


def test_mean_member_log_proba_is_the_log_of_the_mean_probability():
    logits = torch.randn(7, 5, 3, dtype=torch.float64)
    expected = torch.log(torch.softmax(logits, dim=-1).mean(dim=1))
    out = mean_member_log_proba(logits)
    torch.testing.assert_close(out, expected)
    # it stands where logits stand: its softmax is the mean probability, its cross-entropy the ensemble's log-loss
    torch.testing.assert_close(torch.softmax(out, dim=1), torch.softmax(logits, dim=-1).mean(dim=1))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    torch.testing.assert_close(F.cross_entropy(out, y), -expected[torch.arange(7), y].mean())


def test_member_gradient_scales_by_the_number_of_members():
    p = torch.randn(4, 3, requires_grad=True)
    (member_gradient(p) * torch.arange(12.0).view(4, 3)).sum().backward()
    torch.testing.assert_close(p.grad, 4 * torch.arange(12.0).view(4, 3))
    with torch.no_grad():
        assert member_gradient(p) is p


def test_single_member_model_is_the_plain_mlp():
    torch.manual_seed(0)
    plain = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(16,))
    torch.manual_seed(0)
    one = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(16,), n_ensemble_members=1)
    assert isinstance(one.head, torch.nn.Linear) and not hasattr(one, "member_scaling")
    for (name_a, a), (name_b, b) in zip(plain.state_dict().items(), one.state_dict().items()):
        assert name_a == name_b and torch.equal(a, b)


def test_ensemble_model_outputs_members_in_training_and_the_mean_in_evaluation():
    torch.manual_seed(0)
    model = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(16, 8), dropout=0.0, n_ensemble_members=5)
    x_num, x_cat = _inputs()
    members, features = model(x_num, x_cat, return_features=True)
    assert members.shape == (12, 5, 3) and features.shape == (12, 5, 8)
    model.eval()
    mean = model(x_num, x_cat)
    assert mean.shape == (12, 3)
    torch.testing.assert_close(torch.softmax(mean, dim=1), torch.softmax(members, dim=-1).mean(dim=1))
    # the members share the backbone: only the adapters and heads are per member
    n_shared = sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("member_", "head")))
    torch.manual_seed(0)
    plain = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(16, 8), dropout=0.0)
    assert n_shared == sum(p.numel() for name, p in plain.named_parameters() if not name.startswith("head"))
    assert model.member_scaling.weight.shape == (5, model.n_features_in)
    with pytest.raises(ValueError, match="n_ensemble_members"):
        TabularMLP(4, CARDS, 3, n_ensemble_members=0)


def test_each_head_learns_from_its_own_members_loss():
    """The loss is the mean over members; a head's gradient is that of its own member's loss alone."""
    torch.manual_seed(0)
    model = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(8,), dropout=0.0, n_ensemble_members=3)
    x_num, x_cat = _inputs()
    y = torch.randint(0, 3, (12,), generator=torch.Generator().manual_seed(1))
    net = ImbalanceNet(model, criterion=build_loss("cross_entropy", n_classes=3, class_counts=np.array([5, 4, 3])), device="cpu")
    net.initialize()
    logits = net.module_(x_num, x_cat)
    net.get_loss(logits, y, training=True).backward()
    ensemble_grad = net.module_.head.weight.grad[1].clone()
    shared_grad = net.module_.backbone[0].weight.grad.clone()

    # member 1's loss alone, through the raw head parameters (no gradient scaling on this path)
    head = net.module_.head
    with torch.no_grad():
        features = net.module_.backbone(net.module_.member_scaling(net.module_._embed(x_num, x_cat)))
    weight = head.weight.detach().clone().requires_grad_(True)
    F.cross_entropy(features[:, 1] @ weight[1] + head.bias[1].detach(), y).backward()
    torch.testing.assert_close(ensemble_grad, weight.grad[1])

    # the shared weights get the mean of the members' gradients
    net.module_.zero_grad()
    logits = net.module_(x_num, x_cat)
    sum(F.cross_entropy(logits[:, m], y) for m in range(3)).div(3).backward()
    torch.testing.assert_close(shared_grad, net.module_.backbone[0].weight.grad)


def test_members_loss_is_the_mean_of_the_members_losses_with_weights():
    criterion = build_loss(
        "cross_entropy", n_classes=3, class_counts=np.array([5, 4, 3]), eps_per_class=torch.tensor([0.0, 0.1, 0.3])
    )
    net = ImbalanceNet(torch.nn.Linear(2, 3), criterion=criterion, device="cpu",
                       class_weights=np.array([1.0, 2.0, 3.0]))
    net.initialize()
    logits = torch.randn(6, 4, 3)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    s = torch.tensor([1.0, 0.5, 2.0, 1.0, 0.0, 1.5])
    loss = net.get_loss(logits, y, training=True, sample_weight=s)
    per_member = torch.stack([criterion(logits[:, m], y) for m in range(4)], dim=1).mean(dim=1)
    expected = (per_member * torch.tensor([1.0, 2.0, 3.0])[y] * s).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(sam_asymmetric_rho=0.05, class_smoothing_eps=0.1, joint_ssl_weight=0.1, invert_smoothing=True),
        dict(optimizer="adamw", learning_rate_init=3e-3, precision="bfloat16"),
        dict(loss="focal", class_weight="balanced"),
    ],
)
def test_estimator_trains_an_ensemble(imbalanced, params):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(n_ensemble_members=4, max_iter=20, random_state=0, **{**FAST, **params}).fit(X, y)
    module = clf.net_.module_
    assert module.n_ensemble_members == 4 and module.head.weight.shape[0] == 4
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # well above the majority class's share (0.7); one network scores 0.87-0.92 with these settings
    assert clf.score(X, y) > 0.8
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_estimator_predicts_the_mean_of_the_members_probabilities(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(n_ensemble_members=3, max_iter=3, random_state=0, dropout=0.0, **FAST).fit(X, y)
    inputs = {key: torch.as_tensor(value) for key, value in clf._transform_inputs(X[:20]).items()}
    module = clf.net_.module_
    module.train()  # members' logits; dropout is 0, so the same function as in evaluation
    with torch.no_grad():
        members = module(**inputs)
    module.eval()
    expected = torch.softmax(members.double(), dim=-1).mean(dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X[:20]), expected, rtol=1e-5, atol=1e-6)
    # a different ensemble than any one of its members
    assert not np.allclose(expected, torch.softmax(members[:, 0].double(), dim=-1).numpy(), atol=1e-3)


def test_estimator_ensemble_is_reproducible_and_pickles(imbalanced):
    X, y = imbalanced
    make = lambda: ImbalancedMLPClassifier(n_ensemble_members=3, max_iter=3, random_state=5, **FAST)  # noqa: E731
    a, b = make().fit(X, y), make().fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))


def test_a_model_pickled_before_ensembles_existed_predicts_as_one_network(imbalanced):
    """An older imbsk's TabularMLP had no n_ensemble_members: read back, it is one plain MLP (forward read the
    missing attribute and raised AttributeError at the first prediction)."""
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    old = pickle.loads(pickle.dumps(clf))
    del old.n_ensemble_members, old.net_.module_.n_ensemble_members  # what the older imbsk pickled
    restored = pickle.loads(pickle.dumps(old))
    assert restored.n_ensemble_members == restored.net_.module_.n_ensemble_members == 1
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_estimator_rejects_bad_member_counts(imbalanced):
    X, y = imbalanced
    for bad in (0, 2.5, -1):
        with pytest.raises(ValueError, match="n_ensemble_members"):
            ImbalancedMLPClassifier(n_ensemble_members=bad, max_iter=1, **FAST).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ensemble_on_cuda(imbalanced):
    X, y = imbalanced
    params = dict(FAST, device="cuda", n_ensemble_members=4, max_iter=3, random_state=0, sam_asymmetric_rho=0.05)
    gpu = ImbalancedMLPClassifier(**params).fit(X, y)
    assert next(gpu.net_.module_.parameters()).is_cuda
    proba = gpu.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_joint_ssl_term_is_the_mean_of_the_members_vicreg_losses():
    """Joint-SSL applies per member, as the supervised loss does: member m's VICReg loss on its own pairs of
    views, averaged over the members. Pooled, the spread between members counted as variance, so that
    features constant within every member (each member collapsed) escaped most of the variance penalty."""
    from imbsk.techniques.vicreg import vicreg_loss

    torch.manual_seed(0)
    model = TabularMLP(4, CARDS, 3, hidden_layer_sizes=(16,), dropout=0.0, projector_dims=(12, 6),
                       n_ensemble_members=4)
    net = ImbalanceNet(model, criterion=build_loss("cross_entropy", n_classes=3, class_counts=np.array([5, 4, 3])),
                       device="cpu", ssl_weight=1.0)
    net.initialize()
    x_num, x_cat = _inputs(n=16)
    both = {"x_num": x_num, "x_cat": x_cat}  # rows 0-7 view 1, rows 8-15 view 2 of the same 8 rows
    loss = net._ssl_loss(both)
    with torch.no_grad():
        _, features = net.module_(x_num, x_cat, return_features=True)
        z = net.module_.project(features.flatten(0, 1)).view(16, 4, -1)
    expected = torch.stack([vicreg_loss(z[:8, m], z[8:, m]) for m in range(4)]).mean()
    torch.testing.assert_close(loss.detach(), expected)

    # every member collapsed to its own constant: the full variance penalty of each member
    collapsed = torch.randn(1, 8, 6).expand(16, 8, 6)
    penalty = vicreg_loss(collapsed, collapsed)
    torch.testing.assert_close(penalty, vicreg_loss(collapsed[:, 0], collapsed[:, 0]))
    torch.testing.assert_close(penalty, torch.tensor(25.0 * (1 - 1e-2)))
