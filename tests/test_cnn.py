"""ImbalancedCNNClassifier: input layouts, augmentation / mixing / Joint-SSL wiring, bad input, persistence."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError

from imbsk.datasets import load_digits_lt
from imbsk.estimators.cnn import ImageNet, ImbalancedCNNClassifier, _channel_stats
from imbsk.models.projector import Projector
from imbsk.techniques.label_smoothing import unsmoothed_probabilities
from imbsk.techniques.sam import AsymmetricSAM

# Small network, no augmentation and one epoch unless a test says otherwise.
FAST = dict(architecture="resnet8", max_iter=1, batch_size=32, device="cpu", augmentation="none", mixing=None)


@pytest.fixture(scope="module")
def digits():
    data = load_digits_lt(1.0, as_images=True, random_state=0)
    # 20 images per class for the quick fits.
    keep = np.concatenate([np.flatnonzero(data.y_train == c)[:20] for c in range(10)])
    return data, data.X_train[keep], data.y_train[keep]


@pytest.fixture(scope="module")
def fitted(digits):
    _, X, y = digits
    return ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, y)


def _to_nchw_float(X_uint8: np.ndarray) -> np.ndarray:
    # Same float32 arithmetic as the estimator's uint8 path, so both give bit-identical inputs.
    return np.ascontiguousarray(X_uint8.transpose(0, 3, 1, 2)).astype(np.float32) / np.float32(255)


# -- input layouts and fitted attributes ---------------------------------------------------
def test_uint8_nhwc_float_nchw_and_flat_rows_are_the_same_images(digits):
    _, X, y = digits
    reference = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, y)
    assert reference.image_shape_ == (8, 8, 1)
    assert reference.n_features_in_ == 64
    np.testing.assert_allclose(reference.channel_mean_, [X.mean() / 255], rtol=1e-6)
    np.testing.assert_allclose(reference.channel_std_, [X.std() / 255], rtol=1e-6)
    proba = reference.predict_proba(X[:50])
    assert proba.shape == (50, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)

    as_float = ImbalancedCNNClassifier(random_state=0, **FAST).fit(_to_nchw_float(X), y)
    np.testing.assert_array_equal(as_float.predict_proba(_to_nchw_float(X[:50])), proba)
    # Prediction accepts either layout whatever the layout at fit.
    np.testing.assert_array_equal(as_float.predict_proba(X[:50]), proba)

    flat = ImbalancedCNNClassifier(image_shape=(8, 8, 1), random_state=0, **FAST).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(flat.predict_proba(X[:50].reshape(50, -1)), proba)
    np.testing.assert_array_equal(flat.predict_proba(X[:50]), proba)

    # Single-channel images may drop the channel axis, as uint8 or as float.
    gray = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X[..., 0], y)
    assert gray.image_shape_ == (8, 8, 1)
    np.testing.assert_array_equal(gray.predict_proba(X[:50, :, :, 0]), proba)
    np.testing.assert_array_equal(gray.predict_proba(_to_nchw_float(X[:50])[:, 0]), proba)
    np.testing.assert_array_equal(reference.predict_proba(X[:50, :, :, 0]), proba)


def test_channel_statistics_come_from_the_training_images_only(digits):
    _, X, y = digits
    whole = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, y)
    held_out = ImbalancedCNNClassifier(validation_fraction=0.5, random_state=0, **FAST).fit(X, y)
    np.testing.assert_allclose(whole.channel_mean_, [X.mean() / 255], rtol=1e-6)
    assert abs(held_out.channel_mean_[0] - whole.channel_mean_[0]) > 1e-4  # half the images only
    means = [X[rows].mean() / 255 for rows in np.split(np.arange(len(X)), 2)]
    assert min(means) - 0.05 < held_out.channel_mean_[0] < max(means) + 0.05


def test_colour_images_build_a_three_channel_network():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(40, 8, 10, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    clf = ImbalancedCNNClassifier(**{**FAST, "augmentation": "trivialaugment", "mixing": "cutmix"}, random_state=0)
    clf.fit(X, y)
    assert clf.image_shape_ == (8, 10, 3) and clf.n_features_in_ == 240
    assert clf.net_.module_.backbone.stem[0].in_channels == 3
    np.testing.assert_allclose(clf.channel_mean_, X.reshape(-1, 3).mean(axis=0) / 255, rtol=1e-6)
    assert clf.predict_proba(X[:5]).shape == (5, 2)


def test_channel_statistics_and_in_network_normalisation():
    # Channel 0 is constant 51 (= 0.2): centred but not rescaled. Channel 1 is half 0, half 255.
    X = np.zeros((4, 8, 8, 2), dtype=np.uint8)
    X[..., 0] = 51
    X[2:, :, :, 1] = 255
    clf = ImbalancedCNNClassifier(**FAST).fit(X, [0, 1, 0, 1])
    np.testing.assert_allclose(clf.channel_mean_, [0.2, 0.5], rtol=1e-6)
    np.testing.assert_allclose(clf.channel_std_, [1.0, 0.5], rtol=1e-6)
    module = clf.net_.module_
    assert isinstance(module, ImageNet)
    np.testing.assert_allclose(module.channel_mean.flatten().numpy(), clf.channel_mean_, rtol=1e-6)
    x = torch.rand(3, 2, 8, 8)
    with torch.no_grad():
        standardised = (x - module.channel_mean) / module.channel_std
        out = module(x)
        # On the CPU the backbone gets the images channels-last: the same values, rounded alike ...
        assert torch.equal(out, module.backbone(standardised.contiguous(memory_format=torch.channels_last)))
        # ... and equal to the channels-first result up to the convolutions' rounding.
        np.testing.assert_allclose(out.numpy(), module.backbone(standardised).numpy(), rtol=1e-5, atol=1e-6)
    # Two-pass statistics match numpy on a larger random batch.
    images = np.random.default_rng(1).random((300, 3, 5, 7), dtype=np.float32)
    mean, std = _channel_stats(images)
    np.testing.assert_allclose(mean, images.mean(axis=(0, 2, 3), dtype=np.float64), rtol=1e-10)
    np.testing.assert_allclose(std, images.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-10)


def test_string_labels_round_trip(digits):
    _, X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    np.testing.assert_array_equal(clf.class_counts_, np.full(10, 20))
    predicted = clf.predict(X[:30])
    assert set(predicted) <= set(names)
    np.testing.assert_array_equal(predicted, clf.classes_[clf.predict_proba(X[:30]).argmax(axis=1)])


# -- augmentation, mixing, techniques ----------------------------------------------------
@pytest.mark.parametrize("augmentation", ["none", "flip_crop", "trivialaugment", "autoaugment"])
@pytest.mark.parametrize("mixing", ["cutmix", "mixup", None])
def test_fit_with_every_augmentation_and_mixing(digits, augmentation, mixing):
    _, X, y = digits
    clf = ImbalancedCNNClassifier(**{**FAST, "augmentation": augmentation, "mixing": mixing}, random_state=0)
    assert clf.fit(X[::2], y[::2]) is clf
    assert clf.n_iter_ == 1
    assert np.isfinite(clf.history_[-1, "train_loss"])
    assert np.isfinite(clf.predict_proba(X[:10])).all()
    transform = clf._batch_transform()
    assert (transform is None) == (augmentation == "none" and mixing is None)


def _unfitted_with_shape(**params) -> ImbalancedCNNClassifier:
    clf = ImbalancedCNNClassifier(**{**FAST, **params})
    clf.image_shape_ = (8, 8, 1)  # what fit would set; the transforms only need the image size
    return clf


def test_mixup_batch_is_the_convex_combination_of_the_paired_images():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    y = torch.arange(16)  # distinct labels: y_b reveals the pairing
    out, targets = _unfitted_with_shape(mixing="mixup")._batch_transform()(x, y)
    perm, lam = targets.y_b, targets.lam
    torch.testing.assert_close(targets.y_a, y)
    assert lam.shape == (16,) and bool(((lam >= 0) & (lam <= 1)).all())
    expected = lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm]
    torch.testing.assert_close(out, expected)


def test_cutmix_pastes_a_box_whose_area_gives_lam():
    torch.manual_seed(3)
    n = 16
    x = (torch.arange(n, dtype=torch.float32) + 1).div(n + 1).view(n, 1, 1, 1).expand(n, 1, 8, 8).contiguous()
    out, targets = _unfitted_with_shape(mixing="cutmix", mixing_alpha=1.0)._batch_transform()(x, torch.arange(n))
    perm, lam = targets.y_b, targets.lam
    own = out == x
    from_partner = out == x[perm]
    assert bool((own | from_partner).all())
    moved = perm != torch.arange(n)
    own_fraction = own[moved].float().mean(dim=(1, 2, 3))
    torch.testing.assert_close(own_fraction, lam[moved].float())


def test_augmentation_transform_changes_images_but_not_labels():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 8, 8)
    y = torch.randint(0, 10, (32,))
    out, targets = _unfitted_with_shape(augmentation="flip_crop")._batch_transform()(x, y)
    assert out.shape == x.shape and targets.y_b is None and targets.lam is None
    torch.testing.assert_close(targets.y_a, y)
    assert not torch.equal(out, x)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_same_seed_same_model_with_random_augmentation(digits):
    _, X, y = digits
    params = {**FAST, "augmentation": "trivialaugment", "mixing": "cutmix"}
    first = ImbalancedCNNClassifier(**params, random_state=5).fit(X, y).predict_proba(X[:20])
    second = ImbalancedCNNClassifier(**params, random_state=5).fit(X, y).predict_proba(X[:20])
    other = ImbalancedCNNClassifier(**params, random_state=6).fit(X, y).predict_proba(X[:20])
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def _recording_views(seen: list[torch.Tensor]) -> type[ImbalancedCNNClassifier]:
    """The CNN classifier with its Joint-SSL view transform recording every batch it is given in ``seen``."""

    class Recording(ImbalancedCNNClassifier):
        def _view_transform(self, train):
            inner = super()._view_transform(train)

            def view(batch):
                seen.append(batch.clone())
                return inner(batch)

            return view

    return Recording


def test_joint_ssl_builds_a_projector_and_views_come_from_unmixed_images(digits):
    _, X, y = digits
    seen: list[torch.Tensor] = []
    params = {**FAST, "augmentation": "flip_crop", "mixing": "cutmix", "ssl_projector_dims": (16, 8)}
    clf = _recording_views(seen)(joint_ssl_weight=0.5, random_state=0, **params).fit(X, y)
    projector = clf.net_.module_.projector
    assert isinstance(projector, Projector) and projector.out_features == 8
    assert projector.in_features == clf.net_.module_.backbone.feature_dim
    # Two views per step, each of the whole (un-augmented, un-mixed) training batch.
    n_steps = -(-len(X) // 32)
    assert len(seen) == 2 * n_steps
    training_rows = {row.tobytes() for row in _to_nchw_float(X)}
    assert all(row.numpy().tobytes() in training_rows for batch in seen for row in batch)

    without = ImbalancedCNNClassifier(random_state=0, **params).fit(X, y)
    assert without.net_.module_.projector is None
    with pytest.raises(RuntimeError, match="projector"):
        without.net_.module_.project(torch.zeros(2, 64))
    assert not np.allclose(clf.predict_proba(X[:20]), without.predict_proba(X[:20]))


def test_joint_ssl_views_differ_even_without_augmentation(digits):
    _, X, y = digits
    clf = ImbalancedCNNClassifier(**{**FAST, "ssl_projector_dims": (16, 8)}, joint_ssl_weight=0.1, random_state=0)
    clf.image_shape_ = (8, 8, 1)
    view = clf._view_transform(None)
    x = torch.rand(32, 1, 8, 8)
    torch.manual_seed(0)
    assert not torch.equal(view(x), view(x))
    assert np.isfinite(clf.fit(X, y).history_[-1, "train_loss"])


def test_sam_a_and_joint_ssl_draw_the_views_once_per_step(digits):
    # Both SAM passes must see the same views; they used to be redrawn in the second pass (4 draws per step).
    _, X, y = digits
    seen: list[torch.Tensor] = []
    params = {**FAST, "augmentation": "flip_crop", "ssl_projector_dims": (16, 8)}
    clf = _recording_views(seen)(joint_ssl_weight=0.5, sam_asymmetric_rho=0.05, random_state=0, **params).fit(X, y)
    assert np.isfinite(clf.history_[-1, "train_loss"])
    n_steps = -(-len(X) // 32)
    assert len(seen) == 2 * n_steps


def test_faithful_sam_a_step_trains_the_image_network_with_mixing_and_joint_ssl(digits):
    # Unequal radii (an imbalanced subset), CutMix, BatchNorm and Joint-SSL views: the views are still drawn once a
    # step, and the faithful step trains another model than the fast one.
    _, X, y = digits
    keep = np.concatenate([np.flatnonzero(y == c)[: 20 if c < 5 else 4] for c in range(10)])
    X, y = X[keep], y[keep]
    params = {**FAST, "augmentation": "flip_crop", "mixing": "cutmix", "ssl_projector_dims": (16, 8)}
    seen: list[torch.Tensor] = []
    faithful = _recording_views(seen)(joint_ssl_weight=0.5, sam_asymmetric_rho=0.05, sam_asymmetric_step="faithful",
                                      random_state=0, **params).fit(X, y)
    assert faithful.net_.sam.step == "faithful" and not faithful.net_.sam.uniform
    assert np.isfinite(faithful.history_[-1, "train_loss"])
    assert len(seen) == 2 * -(-len(X) // 32)
    fast = ImbalancedCNNClassifier(joint_ssl_weight=0.5, sam_asymmetric_rho=0.05, random_state=0, **params).fit(X, y)
    assert not np.allclose(fast.predict_proba(X[:20]), faithful.predict_proba(X[:20]))


def test_sam_a_is_wired_and_changes_training(digits):
    _, X, y = digits
    erm = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, y)
    sam = ImbalancedCNNClassifier(sam_asymmetric_rho=0.05, random_state=0, **FAST).fit(X, y)
    assert erm.net_.sam is None
    assert isinstance(sam.net_.sam, AsymmetricSAM)
    assert not np.allclose(erm.predict_proba(X[:20]), sam.predict_proba(X[:20]))


def test_bfloat16_autocast_runs_convolutions_in_bfloat16(digits):
    _, X, y = digits
    clf = ImbalancedCNNClassifier(precision="bfloat16", sam_asymmetric_rho=0.05, random_state=0,
                                  **{**FAST, "max_iter": 2}).fit(X, y)
    seen = set()
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
             for m in clf.net_.module_.modules() if isinstance(m, torch.nn.Conv2d)]
    proba = clf.predict_proba(X[:20])
    for hook in hooks:
        hook.remove()
    assert seen == {torch.bfloat16}
    assert np.isfinite(proba).all() and proba.shape == (20, 10)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


def test_class_smoothing_sets_per_class_eps(digits):
    _, X, y = digits
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:5]])  # 20 vs 5 images
    clf = ImbalancedCNNClassifier(class_smoothing_eps=0.1, random_state=0, **FAST).fit(X[keep], y[keep])
    # sqrt_inverse_frequency: eps_c = 0.1 * sqrt(20 / n_c).
    np.testing.assert_allclose(clf.net_.criterion_.eps_per_class.numpy(), [0.1, 0.2], rtol=1e-6)
    plain = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X[keep], y[keep])
    assert not np.allclose(clf.predict_proba(X[:20]), plain.predict_proba(X[:20]))


def test_invert_smoothing_undoes_the_smoothing_of_the_cnn(digits):
    _, X, y = digits
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:5]])  # 20 vs 5 images
    clf = ImbalancedCNNClassifier(class_smoothing_eps=0.1, invert_smoothing=True, random_state=0, **FAST)
    clf.fit(X[keep], y[keep])
    np.testing.assert_allclose(clf.class_smoothing_eps_, [0.1, 0.2])
    inverted = clf.predict_proba(X[:20])
    raw = clf.set_params(invert_smoothing=False).predict_proba(X[:20])
    eps = torch.as_tensor(clf.class_smoothing_eps_)
    np.testing.assert_allclose(inverted, unsmoothed_probabilities(torch.as_tensor(raw), eps).numpy(), atol=1e-12)
    assert not np.allclose(inverted, raw)


def test_learns_digits_well_above_chance(digits):
    data, _, _ = digits
    keep = np.concatenate([np.flatnonzero(data.y_train == c)[:50] for c in range(10)])
    clf = ImbalancedCNNClassifier(**{**FAST, "max_iter": 15}, random_state=0)
    clf.fit(data.X_train[keep], data.y_train[keep])
    # Chance is 0.1 on the 500 balanced held-out images.
    assert balanced_accuracy_score(data.y_test, clf.predict(data.X_test)) > 0.8


# -- persistence and scikit-learn contract -------------------------------------------------
def test_pickle_round_trip_gives_identical_probabilities(fitted, digits):
    _, X, _ = digits
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X[:40]), fitted.predict_proba(X[:40]))
    np.testing.assert_array_equal(restored.classes_, fitted.classes_)
    assert restored.image_shape_ == fitted.image_shape_


def test_clone_and_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "net_")
    copy.set_params(mixing="mixup", architecture="wrn10_1")
    assert copy.mixing == "mixup" and copy.architecture == "wrn10_1"


def test_predict_before_fit_raises_not_fitted(digits):
    _, X, _ = digits
    with pytest.raises(NotFittedError):
        ImbalancedCNNClassifier(**FAST).predict(X)
    # invert_smoothing reads the fitted eps_c: before fit that was an AttributeError, not NotFittedError.
    inverting = ImbalancedCNNClassifier(class_smoothing_eps=0.1, invert_smoothing=True, **FAST)
    for method in (inverting.predict, inverting.predict_proba, inverting.predict_log_proba):
        with pytest.raises(NotFittedError):
            method(X)


def test_flat_rows_in_a_pipeline(digits):
    _, X, y = digits
    flat = X.reshape(len(X), -1).astype(np.float64)
    model = make_pipeline(MinMaxScaler(), ImbalancedCNNClassifier(image_shape=(8, 8, 1), random_state=0, **FAST))
    model.fit(flat, y)
    assert model.predict(flat[:7]).shape == (7,)



def test_flat_rows_as_a_dataframe_keep_their_column_names(digits):
    """Fitted on a DataFrame of pixel columns (fetch_openml's layout), predict checks the columns as sklearn does.

    The names were not recorded: columns in another order scrambled the images silently.
    """
    import pandas as pd

    _, X, y = digits
    frame = pd.DataFrame(X.reshape(len(X), -1) / 255.0).add_prefix("pixel")
    model = ImbalancedCNNClassifier(image_shape=(8, 8, 1), random_state=0, **FAST).fit(frame, y)
    assert model.feature_names_in_.tolist() == frame.columns.tolist()
    with pytest.raises(ValueError, match="same order"):
        model.predict(frame[frame.columns[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(model.predict_proba(frame.to_numpy()), model.predict_proba(frame))
    # Refitted on an array, the names are gone (and a DataFrame at predict is warned about).
    model.fit(frame.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        model.predict(frame)
    # Images (3-D / 4-D arrays) have no feature names.
    assert not hasattr(ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, y), "feature_names_in_")


def test_flat_rows_of_nullable_dtypes_read_as_their_numpy_dtypes(digits):
    """A DataFrame of pandas' nullable integers / floats fits as the same NumPy pixels; pd.NA is a missing pixel."""
    import pandas as pd

    _, X, y = digits
    pixels = X.reshape(len(X), -1)
    model = ImbalancedCNNClassifier(image_shape=(8, 8, 1), random_state=0, **FAST).fit(pixels, y)
    expected = model.predict_proba(pixels)
    np.testing.assert_array_equal(model.predict_proba(pd.DataFrame(pixels).astype("UInt8")), expected)
    scaled = pd.DataFrame(pixels / 255.0).astype("Float64")
    np.testing.assert_allclose(model.predict_proba(scaled), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="must lie in"):  # Int64 0..255 read as unscaled ints, as an int64 array is
        model.predict(pd.DataFrame(pixels).astype("Int64"))
    scaled.iloc[0, 0] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        model.predict(scaled)


def test_tags_allow_2d_input_only_with_image_shape():
    assert not ImbalancedCNNClassifier().__sklearn_tags__().input_tags.two_d_array
    assert ImbalancedCNNClassifier(image_shape=(8, 8, 1)).__sklearn_tags__().input_tags.two_d_array
    assert ImbalancedCNNClassifier().__sklearn_tags__().input_tags.three_d_array


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimators_unfitted,
        estimator_checks.check_param_validation,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_mixin_order,
        estimator_checks.check_valid_tag_types,
        estimator_checks.check_estimator_tags_renamed,
        estimator_checks.check_requires_y_none,
        estimator_checks.check_estimator_sparse_array,
        estimator_checks.check_fit1d,
        estimator_checks.check_positive_only_tag_during_fit,  # iris: 4 features, 2 x 2 images
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_checks_that_do_not_depend_on_the_data_format(check):
    check("ImbalancedCNNClassifier", ImbalancedCNNClassifier(image_shape=(2, 2, 1), **FAST))


@pytest.mark.parametrize(
    "check, image_shape",
    [
        (estimator_checks.check_sample_weights_list, (3, 1, 1)),
        (estimator_checks.check_classifiers_one_label_sample_weights, (10, 1, 1)),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_sklearn_sample_weight_checks_whose_data_are_images(check, image_shape):
    # The other sample-weight checks feed values outside [0, 1] (or of no image width), which
    # fit rejects before it looks at the weights; test_sample_weights_reach_the_loss covers them.
    check("ImbalancedCNNClassifier", ImbalancedCNNClassifier(image_shape=image_shape, random_state=0, **FAST))


def test_sklearn_default_constructible():
    estimator_checks.check_parameters_default_constructible("ImbalancedCNNClassifier", ImbalancedCNNClassifier())


def test_sample_weights_reach_the_loss(digits):
    # With CutMix a mixed image keeps the weight of the image it was pasted onto.
    _, X, y = digits
    params = {**FAST, "mixing": "cutmix", "random_state": 0}
    plain = ImbalancedCNNClassifier(**params).fit(X, y).predict_proba(X)
    ones = ImbalancedCNNClassifier(**params).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    np.testing.assert_array_equal(ones, plain)
    heavy = ImbalancedCNNClassifier(**params).fit(X, y, sample_weight=np.where(y == 3, 20.0, 1.0)).predict_proba(X)
    assert heavy[:, 3].mean() > plain[:, 3].mean() + 0.1
    for bad in (np.ones(len(y) - 1), -np.ones(len(y)), np.zeros(len(y))):
        with pytest.raises(ValueError, match="sample_weight"):
            ImbalancedCNNClassifier(**FAST).fit(X, y, sample_weight=bad)


# -- bad input -------------------------------------------------------------------------
EXPECTED = r"\(n_samples, height, width, channels\)"


@pytest.mark.parametrize("shape", [(20,), (2, 2, 8, 8, 1)])
def test_wrong_rank_names_the_expected_shape(shape):
    X = np.zeros(shape, dtype=np.uint8)
    with pytest.raises(ValueError, match=EXPECTED):
        ImbalancedCNNClassifier(**FAST).fit(X, np.arange(20) % 2)


def test_single_channel_3d_input_needs_uint8_or_float():
    with pytest.raises(ValueError, match="3-D array of dtype int64"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((10, 8, 8), dtype=np.int64), np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImbalancedCNNClassifier(**FAST).fit(np.full((10, 8, 8), 16.0), np.arange(10) % 2)


def test_predict_on_colour_images_rejects_single_channel_input():
    X = np.random.default_rng(0).integers(0, 256, size=(20, 8, 8, 3), dtype=np.uint8)
    clf = ImbalancedCNNClassifier(random_state=0, **FAST).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="with 1 channels, but"):
        clf.predict(X[..., 0])


@pytest.mark.parametrize("architecture", ["resnet8", "wrn10_1"])
def test_batch_size_one_on_images_whose_last_maps_are_1x1_is_refused_before_training(architecture):
    # 4 x 4 images end as 1 x 1 maps (strides 1, 2, 2): one image per batch left BatchNorm one value per
    # channel, and torch stopped the fit mid-epoch with "Expected more than 1 value per channel when training".
    rng = np.random.default_rng(0)
    y = np.arange(12) % 2
    params = {**FAST, "architecture": architecture, "batch_size": 1, "random_state": 0}
    for height, width in [(1, 1), (4, 4), (3, 2)]:
        X = rng.integers(0, 256, size=(12, height, width, 3), dtype=np.uint8)
        with pytest.raises(ValueError, match=rf"batch_size=1 cannot train on {height} x {width} images"):
            ImbalancedCNNClassifier(**params).fit(X, y)
    # A map of two pixels is enough; so is a batch of two images.
    ImbalancedCNNClassifier(**params).fit(rng.integers(0, 256, size=(12, 5, 4, 3), dtype=np.uint8), y)
    ImbalancedCNNClassifier(**{**params, "batch_size": 2}).fit(X, y)


def test_2d_input_without_image_shape_suggests_the_mlp():
    with pytest.raises(ValueError, match="ImbalancedMLPClassifier"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((10, 64)), np.arange(10) % 2)


def test_flat_rows_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"\(n_samples, 64\)"):
        ImbalancedCNNClassifier(image_shape=(8, 8, 1), **FAST).fit(np.zeros((10, 63)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="image_shape"):
        ImbalancedCNNClassifier(image_shape=(8, 8), **FAST).fit(np.zeros((10, 64)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="does not match"):
        ImbalancedCNNClassifier(image_shape=(8, 8, 3), **FAST).fit(np.zeros((10, 8, 8, 1), np.uint8), np.arange(10) % 2)


def test_predict_checks_channels_and_size(fitted):
    with pytest.raises(ValueError, match=r"expected shape \(n_samples, 8, 8, 1\)"):
        fitted.predict(np.zeros((3, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(n_samples, 1, 8, 8\) for float input"):
        fitted.predict(np.zeros((3, 1, 16, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="ImbalancedMLPClassifier"):
        fitted.predict(np.zeros((3, 64)))


def test_predict_checks_float_pixel_range(fitted, digits):
    # fit rejects 0..255 floats; predict used to accept them and answer with near-certain probabilities.
    _, X, _ = digits
    images = _to_nchw_float(X[:4])
    fitted.predict(images)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fitted.predict_proba(images * 255)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fitted.predict(images - 0.5)


def test_float_input_rules():
    y = np.arange(6) % 2
    with pytest.raises(ValueError, match=r"transpose\(0, 3, 1, 2\)"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8, 3), dtype=np.float32), y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImbalancedCNNClassifier(**FAST).fit(np.full((6, 1, 8, 8), 16.0), y)
    X = np.zeros((6, 1, 8, 8))
    X[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ImbalancedCNNClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="uint8"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8, 1), dtype=np.int64), y)
    with pytest.raises(ValueError, match="numeric"):
        ImbalancedCNNClassifier(**FAST).fit(np.full((6, 8, 8, 1), "a"), y)
    with pytest.raises(TypeError, match="sparse"):
        ImbalancedCNNClassifier(image_shape=(2, 2, 1), **FAST).fit(sp.csr_matrix(np.ones((6, 4))), y)


def test_uint8_channels_first_is_rejected_not_read_as_wide_images():
    # (N, 3, 8, 8) uint8 used to be read as 3 x 8 images with 8 channels and trained on scrambled pixels.
    y = np.arange(6) % 2
    with pytest.raises(ValueError, match=r"channels-first.*transpose\(0, 2, 3, 1\)"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 3, 8, 8), dtype=np.uint8), y)
    with pytest.raises(ValueError, match="channels-first"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 1, 8, 8), dtype=np.uint8), y)
    # RGBA and grey + alpha too: (N, 4, 8, 8) uint8 / (N, 8, 8, 4) float were read as 4-pixel-high or
    # 8-channel images.
    with pytest.raises(ValueError, match="channels-first"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 4, 8, 8), dtype=np.uint8), y)
    with pytest.raises(ValueError, match=r"channels-last.*transpose\(0, 3, 1, 2\)"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8, 4), dtype=np.float32), y)
    with pytest.raises(ValueError, match="channels-last"):
        ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8, 2), dtype=np.float32), y)
    # The layouts of their dtype still train.
    assert ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8, 4), dtype=np.uint8), y).image_shape_ == (8, 8, 4)
    assert ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 4, 8, 8), dtype=np.float32), y).image_shape_ == (8, 8, 4)


def test_invalid_architecture_is_named():
    X = np.zeros((6, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="architecture='resnet9'"):
        ImbalancedCNNClassifier(**{**FAST, "architecture": "resnet9"}).fit(X, np.arange(6) % 2)


@pytest.mark.parametrize("image_shape", [(8, 8), (8, 8, 0), (8.0, 8, 1), (8, 8, True), [8, 8, -1]])
@pytest.mark.parametrize("flat", [True, False])
def test_invalid_image_shape_is_an_invalid_parameter_error(image_shape, flat):
    # Checked at fit in sklearn's message form, as the docs promise for every hyperparameter; whatever the layout.
    X = np.zeros((6, 64), dtype=np.uint8) if flat else np.zeros((6, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(InvalidParameterError, match="The 'image_shape' parameter of ImbalancedCNNClassifier"):
        ImbalancedCNNClassifier(**{**FAST, "image_shape": image_shape}).fit(X, np.arange(6) % 2)


@pytest.mark.parametrize("dims", [(0,), ("a",), ()])
def test_invalid_projector_dims_name_the_parameter(dims):
    X = np.zeros((6, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(InvalidParameterError, match="The 'ssl_projector_dims' parameter of ImbalancedCNNClassifier"):
        ImbalancedCNNClassifier(**{**FAST, "ssl_projector_dims": dims, "joint_ssl_weight": 0.1}).fit(X, np.arange(6) % 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_with_every_technique(digits):
    _, X, y = digits
    params = {**FAST, "device": "cuda", "augmentation": "trivialaugment", "mixing": "cutmix", "max_iter": 2}
    clf = ImbalancedCNNClassifier(
        sam_asymmetric_rho=0.05, class_smoothing_eps=0.05, joint_ssl_weight=0.1, random_state=0, **params
    ).fit(X, y)
    proba = clf.predict_proba(X[:20])
    assert np.isfinite(proba).all() and proba.shape == (20, 10)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X[:20]), proba, rtol=1e-5, atol=1e-6)


def test_given_validation_images_drive_early_stopping(digits):
    data, X, y = digits
    clf = ImbalancedCNNClassifier(random_state=0, **{**FAST, "max_iter": 2}, early_stopping_metric="accuracy")
    clf.fit(X, y, X_val=data.X_test[:50], y_val=data.y_test[:50])
    valid_acc = clf.history_[:, "valid_acc"]
    assert len(valid_acc) == 2
    assert np.mean(clf.predict(data.X_test[:50]) == data.y_test[:50]) == pytest.approx(max(valid_acc), abs=1e-12)
    with pytest.raises(ValueError, match="expected"):
        clf.fit(X, y, X_val=data.X_test[:50, :4], y_val=data.y_test[:50])


@pytest.mark.parametrize("mixing", ["cutmix", "mixup"])
def test_int_random_state_leaves_global_generators_untouched_and_covers_every_draw(digits, mixing):
    # The augmentation, the mixing (its Beta draw goes through a numpy generator seeded from torch's),
    # the Joint-SSL views, the weights, the batches and the validation split: all drawn from the seed.
    _, X, y = digits
    params = dict(FAST, augmentation="trivialaugment", mixing=mixing, joint_ssl_weight=0.1, ssl_projector_dims=(8,),
                  validation_fraction=0.25)
    np.random.seed(11)
    torch.manual_seed(11)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state()
    clf = ImbalancedCNNClassifier(random_state=0, **params).fit(X, y)
    proba = clf.predict_proba(X)
    clf.predict(X), clf.score(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    np.testing.assert_array_equal(ImbalancedCNNClassifier(random_state=0, **params).fit(X, y).predict_proba(X), proba)
    assert not np.array_equal(ImbalancedCNNClassifier(random_state=1, **params).fit(X, y).predict_proba(X), proba)


def test_divergence_in_the_last_epoch_is_an_error_not_a_nan_model():
    # The last epoch's steps left weights whose outputs are NaN behind a finite training loss: fit used to
    # return a model whose predict_proba was all NaN without a word.
    rng = np.random.RandomState(0)
    X, y = rng.randint(0, 256, (24, 8, 8, 3)).astype(np.uint8), np.r_[np.zeros(16), np.ones(8)]
    clf = ImbalancedCNNClassifier(**{**FAST, "batch_size": 8}, learning_rate_init=1e5, random_state=0)
    with pytest.raises(FloatingPointError, match="model diverged in the last epoch"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_docstring_states_the_layout_checks_the_code_makes():
    # The class docstring said the channel axis was recognised at lengths "1 or 3" and that image_shape=None
    # took "only 4-D image arrays", while the code recognises 1 to 4 channels (grey + alpha, RGBA: see the
    # test above) and takes 3-D single-channel images too.
    from imbsk.estimators.cnn import _IMAGE_CHANNELS

    doc = " ".join(ImbalancedCNNClassifier.__doc__.split())
    assert _IMAGE_CHANNELS == (1, 2, 3, 4)
    assert "1 or 3" not in doc
    assert doc.count("axis 1 to 4") == 2
    assert "only 4-D" not in doc
    y = np.arange(6) % 2
    fitted = ImbalancedCNNClassifier(**FAST).fit(np.zeros((6, 8, 8), dtype=np.uint8), y)
    assert fitted.image_shape_ == (8, 8, 1)
