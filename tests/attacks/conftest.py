import pytest


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    """24 random images, labelled with the class tiny0 predicts (so tiny0 classifies every one correctly)."""
    pytest.importorskip("torchvision")
    from .tiny_models import labelled_image_folder
    return labelled_image_folder(tmp_path_factory.mktemp("images"), 24)
