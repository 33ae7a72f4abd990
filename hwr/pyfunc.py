"""The served model's class under its first name.

A logged model pickles its python_model by reference; models logged before the package had
sub-packages name hwr.pyfunc.HwrModel, and register, evaluate and hwr-predict load them in a
process where this hwr is already imported."""

from hwr.serving.pyfunc import HwrModel  # noqa: F401
