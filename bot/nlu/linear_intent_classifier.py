"""Intent classifier: logistic regression over TF-IDF n-grams and MiniLM sentence vectors.

Chosen by measurement on held-out Banking77 (see the README): with the same features, DIET
without transformer layers scored 0.893 after 4.5 minutes of training and Rasa's stock
`LogisticRegressionClassifier` on raw counts 0.898 after 4 minutes. Re-weighting the counts
with sublinear TF-IDF and L2-normalising the dense vector lifts a linear model above 0.92 and
trains in well under a minute. Its probabilities feed the FallbackClassifier threshold.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

logger = logging.getLogger(__name__)

# Everything the persisted pipeline is made of; loading refuses any other type.
TRUSTED_TYPES = [
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.Normalizer",
    "builtins.slice",
    "numpy.dtype",
    "numpy.float64",
    "scipy.sparse._csr.csr_matrix",
]


class ClassifierNotTrained(RasaException):
    """The model archive holds no usable classifier: retrain instead of answering blindly."""


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Sparse counts become sublinear TF-IDF, dense vectors unit length, then one softmax."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`C` is the inverse regularisation; `dense_weight` scales the unit dense vector."""
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "max_iter": 300,
            "C": 10.0,
            "dense_weight": 2.0,
        }

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the feature weighting and the classifier together on the intent examples."""
        X, y = self._create_training_matrix(training_data)
        if X.shape[0] == 0:
            return self._resource
        self.clf = self._pipeline(sparse_columns=self._sparse_width(training_data))
        self.clf.fit(X, y)
        self.persist()
        return self._resource

    def _sparse_width(self, training_data: TrainingData) -> int:
        example = next(e for e in training_data.intent_examples if e.get(TEXT))
        _, sentence = example.get_sparse_features(attribute=TEXT)
        return sentence.features.shape[1] if sentence is not None else 0

    def _pipeline(self, sparse_columns: int) -> Pipeline:
        # The stock classifier's feature matrix is [sparse sentence counts | dense sentence
        # vector]; each block gets its own scaling before they meet in one linear model.
        weighting = ColumnTransformer(
            [
                ("ngrams", TfidfTransformer(sublinear_tf=True), slice(0, sparse_columns)),
                ("encoder", Normalizer(), slice(sparse_columns, None)),
            ],
            transformer_weights={"ngrams": 1.0, "encoder": float(self.config["dense_weight"])},
        )
        classifier = LogisticRegression(
            C=float(self.config["C"]),
            max_iter=int(self.config["max_iter"]),
            tol=float(self.config["tol"]),
            solver=self.config["solver"],
            random_state=self.config["random_state"],
        )
        return Pipeline([("weighting", weighting), ("classifier", classifier)])

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LinearIntentClassifier":
        """Loads the pipeline; unlike the stock class, a missing model is an error, not a blank."""
        import skops.io as sio

        with model_storage.read_from(resource) as model_dir:
            path = model_dir / f"{resource.name}.skops"
            if not path.is_file():
                raise ClassifierNotTrained(f"No trained intent classifier at '{path}'.")
            untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
            if untrusted:
                raise ClassifierNotTrained(f"Refusing unexpected types in '{path}': {untrusted}")
            component = cls(config, execution_context.node_name, model_storage, resource)
            component.clf = sio.load(path, trusted=TRUSTED_TYPES)
        return component
