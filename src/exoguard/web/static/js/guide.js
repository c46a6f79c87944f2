// Field guide: draw the example charts (built once by the server from the bundled files).
import { toast, loadCharts } from "./app.js";

const page = document.getElementById("guide-page");
loadCharts(page, page.dataset.chartsUrl).catch((err) => toast(`Charts: ${err.message}`, "warning"));
