"""Pictures: the first layer's weights as 28x28 images and the misclassified digits (matplotlib)."""
import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="pictures need matplotlib (tinygrad_mnist[plot])")

from tinygrad_mnist.nn import MLP, Conv2d, Flatten, Linear, ReLU, Sequential, Unflatten  # noqa: E402
from tinygrad_mnist.figures import filters_grid, misclassified_grid, weights_grid  # noqa: E402


def png_shape(path):
    import matplotlib.image
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape


def test_weights_grid_draws_every_hidden_unit(tmp_path):
    n = weights_grid(MLP([784, 12, 10], seed=0), tmp_path / "w.png")
    assert n == 12 and png_shape(tmp_path / "w.png")[0] > 100


def test_misclassified_grid(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    model = MLP([784, 8, 10], seed=0)
    assert misclassified_grid(model, X, y, tmp_path / "m.png", n=6) == 6
    assert png_shape(tmp_path / "m.png")[1] > 100
    from tinygrad_mnist.train import predict
    right = predict(model, X)
    assert misclassified_grid(model, X, right, tmp_path / "none.png") == 0   # says so in the picture


def test_pictures_reject_non_square_inputs(tmp_path):
    with pytest.raises(ValueError, match="not a square image"):
        weights_grid(MLP([10, 3, 2], seed=0), tmp_path / "w.png")


def test_filters_grid_draws_the_first_convolution_and_weights_grid_points_to_it(tmp_path):
    model = Sequential(Unflatten(1, (1, 28, 28)), Conv2d(1, 6, 5, rng=0), ReLU(), Conv2d(6, 3, 3, rng=1),
                       Flatten(), Linear(3 * 22 * 22, 10, rng=2))
    assert filters_grid(model, tmp_path / "f.png") == 6
    assert png_shape(tmp_path / "f.png")[0] > 100
    assert filters_grid(Sequential(Conv2d(3, 4, (3, 5), rng=0)), tmp_path / "rgb.png") == 4  # 3 channels each
    with pytest.raises(ValueError, match=r"first layer with weights is Conv2d\(1->6, 5x5\): draw its filters"):
        weights_grid(model, tmp_path / "w.png")
    with pytest.raises(ValueError, match="has no Conv2d layer"):
        filters_grid(MLP([784, 10, 10]), tmp_path / "x.png")
