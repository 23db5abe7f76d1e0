"""``notebooks/transfer_learning.ipynb`` runs top to bottom (small settings, CPU), so it cannot rot.

It executes in a fresh Jupyter kernel of this interpreter (nbclient) with two
simulated CPU devices, so its data-parallel path (a two-device mesh, sharded
batches) runs for real. The parameters cell (tag ``parameters``) is followed by
an injected cell with the test settings. The base comes from the real nsfwjs npm
package (cached once per session, see ``demo_support``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from demo_support import shared_home

nbformat = pytest.importorskip("nbformat", reason="executing the notebook needs nbformat "
                               "(pip install nbformat nbclient ipykernel matplotlib)")
nbclient = pytest.importorskip("nbclient", reason="executing the notebook needs nbclient "
                               "(pip install nbclient ipykernel)")
pytest.importorskip("ipykernel", reason="executing the notebook needs ipykernel")
pytest.importorskip("matplotlib", reason="the notebook plots with matplotlib")
pytest.importorskip("PIL", reason="the notebook draws its data set with Pillow")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "transfer_learning.ipynb"
KERNEL = "flaxjs-test-python"


def _kernel_dir(root: Path) -> Path:
    """A Jupyter data folder with a kernelspec running *this* interpreter."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "flaxjs tests", "language": "python"}))
    return root


def test_notebook_runs_end_to_end(tmp_path_factory, monkeypatch):
    home = shared_home(tmp_path_factory)
    work = tmp_path_factory.mktemp("notebook")
    jupyter = _kernel_dir(work / "jupyter")
    monkeypatch.setenv("FLAXJS_HOME", str(home))
    monkeypatch.setenv("FLAXJS_OFFLINE", "1")  # the base is cached: no network from here on
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(work / "ipython"))
    monkeypatch.setenv("XLA_FLAGS", (os.environ.get("XLA_FLAGS", "") +
                                     " --xla_force_host_platform_device_count=2").strip())
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(
        f"QUICK = True\nEXPORT_DIR = {str(work / 'web')!r}"))
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    nbformat.write(nb, work / "executed.ipynb")  # for a look after a failure

    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    assert "split over 2 device(s)" in text, text
    assert "held-out accuracy of the full model" in text, text
    accuracy = float(text.split("held-out accuracy of the full model:")[1].split()[0])
    assert accuracy > 1 / 6, text  # better than chance even with the tiny settings
    images = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert len(images) >= 3  # samples, curves, predictions
    assert (work / "web" / "model.json").is_file()
