"""Your own Flax NNX model, trained with your own optax loop, analysed exactly by toylab.

toylab's analyses take any ``nnx.Module`` that is a chain of ``nnx.Linear`` layers with one
activation (``toylab.models.layers_from`` reads it and checks the reading against the module's
own forward pass). This script:

1. defines a small MLP as a plain ``nnx.Module`` (nothing from toylab);
2. trains it with an ordinary ``nnx.Optimizer`` / ``optax.adam`` loop on a sample of
   ``toylab.data.blobs`` (three Gaussian blobs, a distribution known in closed form);
3. hands the trained module to ``toylab.exact``: its exact linear-region partition and its
   population accuracy under the true distribution (closed-form Gaussian polygon integrals,
   no test set), next to the Bayes-optimal accuracy;
4. hands it to ``toylab.landscape``: the exact Hessian of the training loss and its spectrum.

Run: ``python examples/own_nnx_model.py [--hidden 16] [--steps 300]``.
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import toylab
from toylab import data, exact, landscape


class MyMLP(nnx.Module):
    """2 -> hidden -> hidden -> 3, relu: the kind of model you would write anyway."""

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.first = nnx.Linear(2, hidden, rngs=rngs)
        self.second = nnx.Linear(hidden, hidden, rngs=rngs)
        self.head = nnx.Linear(hidden, 3, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.first(x))
        x = nnx.relu(self.second(x))
        return self.head(x)


def train(model: MyMLP, X: np.ndarray, y: np.ndarray, *, steps: int, learning_rate: float):
    """Full-batch Adam on the mean softmax cross-entropy; returns the loss per step."""
    optimizer = nnx.Optimizer(model, optax.adam(learning_rate), wrt=nnx.Param)
    X, y = jnp.asarray(X, jnp.float32), jnp.asarray(y)

    @nnx.jit
    def step(model, optimizer):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(X), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    return np.array([float(step(model, optimizer)) for _ in range(steps)])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--points", type=int, default=512)
    args = parser.parse_args(argv)
    toylab.use_cpu_cores()

    dist = data.make("blobs")
    sample = dist.sample(0, args.points)
    model = MyMLP(args.hidden, rngs=nnx.Rngs(0))
    losses = train(model, sample.X, sample.y, steps=args.steps, learning_rate=0.01)
    train_accuracy = float(np.mean(np.argmax(model(jnp.asarray(sample.X, jnp.float32)), -1)
                                   == sample.y))

    layers, activation = toylab.layers_from(model)  # what every analysis reads
    p = exact.partition(model, dist)  # the module itself, no conversion needed
    accuracy = exact.population_accuracy(p, dist)
    H = landscape.hessian(model, sample.X, sample.y)
    eigenvalues = landscape.eigendecomposition(H, vectors=False).eigenvalues

    result = dict(
        model=model,
        widths=[int(layers[0][0].shape[0])] + [int(W.shape[1]) for W, _ in layers],
        activation=activation,
        loss_first=float(losses[0]), loss_last=float(losses[-1]),
        train_accuracy=train_accuracy,
        regions=len(p),
        population_accuracy=float(accuracy.value),
        population_accuracy_bound=float(accuracy.error_bound),
        bayes_accuracy=1.0 - dist.bayes_error(),
        hessian_shape=H.shape,
        top_eigenvalues=eigenvalues[:5].tolist(),
        negative_eigenvalues=int(np.sum(eigenvalues < -1e-9 * abs(eigenvalues[0]))),
    )
    print(f"read your module as widths {result['widths']}, activation {activation!r}")
    print(f"training loss {result['loss_first']:.3f} -> {result['loss_last']:.3f} "
          f"({args.steps} Adam steps), training accuracy {train_accuracy:.3f}")
    print(f"exact partition: {len(p)} linear regions over {dist.domain.tolist()}")
    print(f"population accuracy {accuracy.value:.4f} (+- {accuracy.error_bound:.1e}), "
          f"Bayes-optimal {result['bayes_accuracy']:.4f}")
    print(f"Hessian {H.shape[0]} x {H.shape[1]}: top eigenvalues "
          + ", ".join(f"{v:.3g}" for v in result["top_eigenvalues"])
          + f"; {result['negative_eigenvalues']} negative")
    return result


if __name__ == "__main__":
    main()
