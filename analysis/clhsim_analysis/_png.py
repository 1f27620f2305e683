"""Writing figures as small PNGs."""
import io


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
