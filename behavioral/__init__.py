"""Behavioural analog neuron models (cm, opamp, td), their characterisation and comparison.

Importing the package registers the models with :func:`golden.neuron.register_model`.
"""

from golden.neuron import register_model

from .cm import CMNeuron
from .opamp import OpampNeuron
from .td import TDNeuron

register_model("cm", CMNeuron)
register_model("opamp", OpampNeuron)
register_model("td", TDNeuron)
