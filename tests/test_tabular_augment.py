import pytest
import torch

from imbsk.techniques.tabular_augment import TabularAugmenter


def _train_data(n: int = 200, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(n, 5, generator=g)
    # Column j takes codes in a disjoint range so corrupted codes are easy to trace.
    x_cat = torch.stack([torch.randint(0, 4, (n,), generator=g) + 10 * j for j in range(3)], 1)
    return x_num, x_cat


def test_zero_rate_and_noise_is_identity():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat, corruption_rate=0.0, noise_std=0.0)
    v_num, v_cat = aug(x_num[:50], x_cat[:50])
    assert torch.equal(v_num, x_num[:50])
    assert torch.equal(v_cat, x_cat[:50])
    # the view is a new tensor, not an alias of the input
    v_num[0, 0] += 1.0
    assert not torch.equal(v_num, x_num[:50])


def test_corrupted_values_come_from_same_training_column():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat, corruption_rate=0.5, noise_std=0.0)
    batch_num = torch.full((300, 5), 1000.0)  # not present in the training data
    batch_cat = torch.full((300, 3), 999, dtype=torch.long)
    v_num, v_cat = aug(batch_num, batch_cat, generator=torch.Generator().manual_seed(3))
    for j in range(5):
        changed = v_num[:, j] != 1000.0
        assert changed.any()
        assert torch.isin(v_num[changed, j], x_num[:, j]).all()
    for j in range(3):
        changed = v_cat[:, j] != 999
        assert changed.any()
        assert torch.isin(v_cat[changed, j], x_cat[:, j]).all()


def test_fraction_corrupted_matches_rate():
    x_num, x_cat = _train_data()
    rate = 0.3
    aug = TabularAugmenter(x_num, x_cat, corruption_rate=rate, noise_std=0.0)
    n = 20_000
    batch_num = torch.full((n, 5), 1000.0)
    batch_cat = torch.full((n, 3), 999, dtype=torch.long)
    v_num, v_cat = aug(batch_num, batch_cat, generator=torch.Generator().manual_seed(4))
    frac_num = (v_num != 1000.0).float().mean().item()
    frac_cat = (v_cat != 999).float().mean().item()
    # 100k / 60k Bernoulli(0.3) draws: std of the mean < 0.002
    assert frac_num == pytest.approx(rate, abs=0.01)
    assert frac_cat == pytest.approx(rate, abs=0.01)


def test_replacement_rows_drawn_independently_per_feature():
    # Training rows where every column equals the row index: if one row were drawn for all
    # features of a sample, corrupted entries of a row would share one value.
    n = 1000
    x_num = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 4)
    no_cat = torch.zeros(n, 0, dtype=torch.long)
    aug = TabularAugmenter(x_num, no_cat, corruption_rate=1.0, noise_std=0.0)
    v_num, _ = aug(torch.zeros(200, 4), no_cat[:200], generator=torch.Generator().manual_seed(5))
    same_row = (v_num == v_num[:, :1]).all(dim=1).float().mean().item()
    assert same_row < 0.05


def test_noise_std_on_numeric_only():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat, corruption_rate=0.0, noise_std=0.1)
    batch_num = torch.zeros(20_000, 5)
    batch_cat = x_cat[:1].repeat(20_000, 1)
    v_num, v_cat = aug(batch_num, batch_cat, generator=torch.Generator().manual_seed(6))
    assert v_num.std().item() == pytest.approx(0.1, rel=0.02)
    assert v_num.mean().abs().item() < 0.005
    assert torch.equal(v_cat, batch_cat)


def test_shapes_dtypes_devices_preserved_and_empty_groups():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat)
    v_num, v_cat = aug(x_num[:7], x_cat[:7])
    assert v_num.shape == (7, 5) and v_num.dtype == torch.float32 and v_num.device == x_num.device
    assert v_cat.shape == (7, 3) and v_cat.dtype == torch.int64 and v_cat.device == x_cat.device

    only_cat = TabularAugmenter(torch.zeros(200, 0), x_cat)
    v_num, v_cat = only_cat(torch.zeros(7, 0), x_cat[:7])
    assert v_num.shape == (7, 0) and v_cat.shape == (7, 3)

    only_num = TabularAugmenter(x_num, torch.zeros(200, 0, dtype=torch.long))
    v_num, v_cat = only_num(x_num[:7], torch.zeros(7, 0, dtype=torch.long))
    assert v_num.shape == (7, 5) and v_cat.shape == (7, 0) and v_cat.dtype == torch.int64


def test_deterministic_with_seeded_generator():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat, corruption_rate=0.4, noise_std=0.2)
    a = aug(x_num[:64], x_cat[:64], generator=torch.Generator().manual_seed(7))
    b = aug(x_num[:64], x_cat[:64], generator=torch.Generator().manual_seed(7))
    c = aug(x_num[:64], x_cat[:64], generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_invalid_arguments():
    x_num, x_cat = _train_data()
    with pytest.raises(ValueError):
        TabularAugmenter(x_num, x_cat, corruption_rate=1.5)
    with pytest.raises(ValueError):
        TabularAugmenter(x_num, x_cat, noise_std=-1.0)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise_std"):
            TabularAugmenter(x_num, x_cat, noise_std=bad)
    with pytest.raises(ValueError):
        TabularAugmenter(x_num, x_cat[:10])
    aug = TabularAugmenter(x_num, x_cat)
    with pytest.raises(ValueError):
        aug(x_num[:5, :3], x_cat[:5])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_moves_training_data_to_batch_device():
    x_num, x_cat = _train_data()
    aug = TabularAugmenter(x_num, x_cat)
    g = torch.Generator(device="cuda").manual_seed(0)
    v_num, v_cat = aug(x_num[:8].cuda(), x_cat[:8].cuda(), generator=g)
    assert v_num.is_cuda and v_cat.is_cuda
    assert aug.x_num_train.is_cuda and aug.x_cat_train.is_cuda
