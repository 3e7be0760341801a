import pytest
import torch
from rtdl_num_embeddings import compute_bins

from imbsk.models.projector import Projector
from imbsk.models.tabular import TabularMLP

CARDS = [3, 5, 2]


def _batch(n: int = 16, n_num: int = 4, cards: list[int] = CARDS, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(n, n_num, generator=g)
    x_cat = (
        torch.stack([torch.randint(0, c, (n,), generator=g) for c in cards], dim=1)
        if cards
        else torch.zeros(n, 0, dtype=torch.long)
    )
    return x_num, x_cat


def _bins(n_num: int = 4):
    x, _ = _batch(n=256, n_num=n_num, cards=[], seed=1)
    return compute_bins(x, n_bins=8)


@pytest.mark.parametrize("num_embedding", ["plr", "piecewise", "none"])
@pytest.mark.parametrize("cat_embedding", ["embedding", "onehot"])
@pytest.mark.parametrize("n_num,cards", [(4, CARDS), (0, CARDS), (4, [])])
def test_output_shapes(num_embedding, cat_embedding, n_num, cards):
    bins = _bins(n_num) if (num_embedding == "piecewise" and n_num > 0) else None
    model = TabularMLP(
        n_num, cards, 3, num_embedding=num_embedding, bins=bins, cat_embedding=cat_embedding,
        hidden_layer_sizes=(32, 16),
    )
    x_num, x_cat = _batch(n=10, n_num=n_num, cards=cards)
    logits = model(x_num, x_cat)
    assert logits.shape == (10, 3)
    logits2, feats = model(x_num, x_cat, return_features=True)
    assert feats.shape == (10, 16) and model.n_features_out == 16
    model.eval()
    _, feats = model(x_num, x_cat, return_features=True)
    assert torch.allclose(model(x_num, x_cat), model.head(feats))


def test_input_width_matches_embedding_choices():
    m = TabularMLP(4, CARDS, 2, num_embedding="plr", d_embedding=6, cat_embedding="embedding",
                   d_cat_embedding=5, hidden_layer_sizes=(8,))
    assert m.n_features_in == 4 * 6 + 3 * 5
    m = TabularMLP(
        4, CARDS, 2, num_embedding="none", cat_embedding="onehot", hidden_layer_sizes=(8,)
    )
    assert m.n_features_in == 4 + sum(CARDS)
    assert sum(p.numel() for p in m.parameters()) == (4 + 10) * 8 + 8 + 8 * 2 + 2
    # one shared categorical table, not one per column
    m = TabularMLP(0, CARDS, 2, d_cat_embedding=5)
    assert m.cat_embeddings.weight.shape == (sum(CARDS), 5)


def test_onehot_encoding_is_exact():
    m = TabularMLP(0, CARDS, 2, cat_embedding="onehot", hidden_layer_sizes=())
    x_cat = torch.tensor([[0, 4, 1], [2, 0, 0]])
    h = m._embed(torch.zeros(2, 0), x_cat)
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 0, 0, 1, 0, 1],
        [0, 0, 1, 1, 0, 0, 0, 0, 1, 0],
    ], dtype=torch.float32)
    assert torch.equal(h, expected)


def test_categorical_offsets_pick_each_columns_own_rows():
    m = TabularMLP(0, CARDS, 2, d_cat_embedding=1, hidden_layer_sizes=())
    with torch.no_grad():
        m.cat_embeddings.weight.copy_(torch.arange(sum(CARDS), dtype=torch.float32)[:, None])
    h = m._embed(torch.zeros(2, 0), torch.tensor([[0, 0, 0], [2, 4, 1]]))
    # column offsets are 0, 3, 8
    assert torch.equal(h, torch.tensor([[0.0, 3.0, 8.0], [2.0, 7.0, 9.0]]))


def test_none_embedding_passes_raw_values():
    m = TabularMLP(3, [], 2, num_embedding="none", hidden_layer_sizes=())
    x = torch.randn(5, 3)
    assert torch.equal(m._embed(x, torch.zeros(5, 0, dtype=torch.long)), x)


def test_projector_exists_iff_dims_given():
    m = TabularMLP(4, CARDS, 2, hidden_layer_sizes=(16,))
    assert not hasattr(m, "projector")
    assert not any("projector" in name for name, _ in m.named_parameters())
    with pytest.raises(AttributeError):
        m.project(torch.zeros(2, 16))

    m = TabularMLP(4, CARDS, 2, hidden_layer_sizes=(16,), projector_dims=(32, 8))
    assert isinstance(m.projector, Projector)
    _, feats = m(*_batch(n=6), return_features=True)
    assert m.project(feats).shape == (6, 8)
    assert any("projector" in name for name, _ in m.named_parameters())


def test_projector_layout():
    p = Projector(10, (20, 30, 5))
    kinds = [type(layer).__name__ for layer in p.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert p(torch.randn(4, 10)).shape == (4, 5)
    single = Projector(10, (7,))
    assert len(single.net) == 1 and isinstance(single.net[0], torch.nn.Linear)
    with pytest.raises(ValueError):
        Projector(10, ())


@pytest.mark.parametrize("n_members", [3, 4])
def test_project_ensemble_features_row_wise(n_members):
    # An ensemble's features are (N, k, d): BatchNorm1d used to read k as its channels, failing for
    # k != 4 and, for k == 4 (the first projector width), normalising across the members instead.
    torch.manual_seed(0)
    m = TabularMLP(4, CARDS, 2, hidden_layer_sizes=(16,), projector_dims=(4, 8), n_ensemble_members=n_members)
    _, feats = m(*_batch(n=6), return_features=True)
    assert feats.shape == (6, n_members, 16)
    projected = m.project(feats)
    assert projected.shape == (6, n_members, 8)
    expected = m.projector(feats.reshape(-1, 16)).view(6, n_members, 8)
    torch.testing.assert_close(projected, expected)
    m.eval()
    torch.testing.assert_close(m.project(feats), m.projector(feats.reshape(-1, 16)).view(6, n_members, 8))


@pytest.mark.parametrize("num_embedding", ["plr", "piecewise"])
def test_all_parameters_get_gradients(num_embedding):
    bins = _bins() if num_embedding == "piecewise" else None
    m = TabularMLP(
        4, CARDS, 3, num_embedding=num_embedding, bins=bins, hidden_layer_sizes=(16,),
        projector_dims=(8, 4),
    )
    x_num, x_cat = _batch(n=64)
    # cover every categorical code so every embedding row is used
    x_cat[: sum(CARDS)] = torch.tensor([[i % c for c in CARDS] for i in range(sum(CARDS))])
    logits, feats = m(x_num, x_cat, return_features=True)
    (logits.logsumexp(1).mean() + m.project(feats).pow(2).mean()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_construction_errors():
    with pytest.raises(ValueError):
        TabularMLP(0, [], 2)
    with pytest.raises(ValueError):
        TabularMLP(3, [], 2, num_embedding="piecewise")
    with pytest.raises(ValueError):
        TabularMLP(3, [], 2, num_embedding="bogus")
    with pytest.raises(ValueError):
        TabularMLP(3, [2], 2, cat_embedding="bogus")


def test_learns_tiny_problem():
    torch.manual_seed(0)
    n = 256
    x_num = torch.rand(n, 2) * 2 - 1
    x_cat = torch.randint(0, 2, (n, 1))
    # XOR-like target that needs both the non-linear numeric part and the categorical code.
    y = ((torch.sin(3 * x_num[:, 0]) * x_num[:, 1] > 0).long() ^ x_cat[:, 0])
    m = TabularMLP(2, [2], 2, frequency_init_scale=0.5, hidden_layer_sizes=(64, 64), dropout=0.0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(x_num, x_cat), y).backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        acc = (m(x_num, x_cat).argmax(1) == y).float().mean().item()
    assert acc > 0.9


def test_plr_embedding_is_the_per_feature_periodic_linear_relu_of_the_paper():
    # MLP-PLR (Gorishniy et al. 2022) as documented: lite=False (one linear layer per feature, not one shared),
    # a ReLU after it, and frequencies drawn from N(0, sigma^2).
    m = TabularMLP(3, [], 2, d_embedding=5, n_frequencies=400, frequency_init_scale=2.0, hidden_layer_sizes=())
    emb = m.num_embeddings
    assert isinstance(emb.activation, torch.nn.ReLU)
    assert emb.linear.weight.shape == (3, 2 * 400, 5)
    assert emb.periodic.weight.shape == (3, 400)
    assert emb.periodic.weight.std().item() == pytest.approx(2.0, rel=0.1)
    out = m._embed(torch.randn(8, 3), torch.zeros(8, 0, dtype=torch.long))
    assert out.shape == (8, 15) and (out >= 0).all()


def test_piecewise_embedding_is_version_b():
    # Version 'B' adds a plain linear embedding beside the piecewise-linear part (rtdl's recommendation).
    m = TabularMLP(4, [], 2, num_embedding="piecewise", bins=_bins(), d_embedding=6, hidden_layer_sizes=())
    assert m.num_embeddings.linear0 is not None
    assert m.num_embeddings.linear.weight.shape == (4, 8, 6)  # 8 bins per feature


def test_piecewise_bins_use_n_bins_when_the_rows_allow_it():
    from imbsk.models.tabular import piecewise_bins

    x = torch.arange(200, dtype=torch.float32)[:, None].repeat(1, 2) * torch.tensor([1.0, -3.0])
    bins = piecewise_bins(x, n_bins=5)
    assert [len(edges) for edges in bins] == [6, 6]
    torch.testing.assert_close(bins[0][[0, -1]], torch.tensor([0.0, 199.0]))


def test_out_of_range_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="dropout"):
        TabularMLP(3, [], 2, dropout=1.0)  # [0, 1): dropout 1 zeroes every feature
    with pytest.raises(ValueError, match="cat_cardinalities"):
        TabularMLP(3, [2, 0], 2)  # every column has at least code 0
    # Widths of 0 used to build a network of constant logits; negative ones failed in torch unnamed.
    for name, value in (("hidden_layer_sizes", (8, 0)), ("hidden_layer_sizes", (-3,)), ("d_embedding", 0),
                        ("n_frequencies", 0), ("d_cat_embedding", 0)):
        with pytest.raises(ValueError, match=name):
            TabularMLP(3, [2], 2, **{name: value})
    m = TabularMLP(3, [2], 2, hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match="x_num has 2 columns, expected 3"):
        m(torch.zeros(5, 2), torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="x_cat has 2 columns, expected 1"):
        m(torch.zeros(5, 3), torch.zeros(5, 2, dtype=torch.long))
