"""Behavioural analog neuron models (cm, opamp, td), their characterisation and comparison.

The models by name: :data:`behavioral.models.MODELS` (:func:`behavioral.models.build`).
"""
