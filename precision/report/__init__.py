"""The precision-saturation report behind `softmax-sat report`: computed rows, Markdown, figures."""
