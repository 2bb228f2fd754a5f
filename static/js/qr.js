/**
 * A QR code as an SVG element, drawn with the vendored qrcode-generator
 * (static/vendor/qrcode-generator, MIT, copied unmodified by
 * static/vendor/refresh-qrcode.sh). The library's own helpers return HTML
 * strings; we build the SVG node by node instead (no HTML parsing, CSP-safe).
 */
import qrcode from "../vendor/qrcode-generator/qrcode.mjs";

const SVG = "http://www.w3.org/2000/svg";

/** An <svg> of `text` with a quiet zone of `margin` modules. Error
 *  correction "M": a projected code survives glare and a partial view. */
export function qrSvg(text, { margin = 4, label = "" } = {}) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const size = count + margin * 2;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label || `QR code: ${text}`);
  svg.dataset.modules = String(count);
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#ffffff");
  svg.append(background);
  let path = "";
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) path += `M${col + margin} ${row + margin}h1v1h-1z`;
    }
  }
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("d", path);
  modules.setAttribute("fill", "#000000");
  svg.append(modules);
  return svg;
}
