"""Writing figures: small PNGs, and every figure also as SVG and PDF."""
import io
import os


def save_png(fig, path, dpi):
    """Save a figure as a PNG with a 256-colour palette (a third of the size of a
    full-colour one, and indistinguishable for line plots)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    try:
        from PIL import Image
    except ImportError:  # matplotlib needs Pillow, but keep the plain PNG if it is absent
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        return
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256).save(path, optimize=True)


def save_figure(fig, path, dpi):
    """Save ``fig`` as ``path`` (a ``.png``, via :func:`save_png`) and beside it as ``.svg``
    and ``.pdf`` (vector copies for papers). Returns the three paths."""
    save_png(fig, path, dpi)
    stem = os.path.splitext(path)[0]
    out = [path]
    for ext in ("svg", "pdf"):
        fig.savefig(f"{stem}.{ext}", format=ext)
        out.append(f"{stem}.{ext}")
    return out
