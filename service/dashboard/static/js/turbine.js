/* Turbine page charts (ECharts, vendored). Trend data comes inline (#trends-data); the
   spectrogram, saliency and spectra are fetched from small JSON endpoints per latest batch.
   Every chart container gets data-ready="1" once drawn (data-error on failure). */
"use strict";
(function () {
  const trends = JSON.parse(document.getElementById("trends-data").textContent);
  const charts = [];
  const palette = ["#0969da", "#bf3989", "#8250df", "#1a7f37", "#bc4c00", "#57606a"];
  const axisName = (name) => ({ name: name, nameLocation: "middle", nameGap: 32 });
  // Tooltips drawn into the canvas ("richText"): the HTML tooltip writes inline style
  // attributes, which the Content-Security-Policy (style-src 'self') blocks.
  const TIP_AXIS = { trigger: "axis", renderMode: "richText" };
  const TIP_ITEM = { trigger: "item", renderMode: "richText" };
  const base = { animation: false, color: palette, grid: { left: 64, right: 24, top: 36, bottom: 52 },
                 tooltip: TIP_AXIS };
  const spectraCache = {};

  function draw(el, option) {
    const chart = echarts.init(el);
    chart.setOption(Object.assign({}, base, option));
    charts.push(chart);
    el.dataset.ready = "1";
  }
  function fail(el, err) {
    el.dataset.error = String(err);
    el.innerHTML = '<p class="chart-msg">Could not load: ' + String(err).replace(/</g, "&lt;") + "</p>";
  }
  async function getJSON(url) {
    const r = await fetch(url);
    if (!r.ok) { throw new Error(url + " → HTTP " + r.status); }
    return r.json();
  }
  function alarmSeries(t, kind, y) {
    const data = t.alarms.filter((a) => a.kind === kind).map((a) => ({
      value: [a.at, y], name: a.code + " (" + a.severity + ", " + a.state + ")" }));
    return { name: "alarms", type: "scatter", symbol: "pin", symbolSize: 26, data: data,
             itemStyle: { color: "#cf222e" }, tooltip: Object.assign({}, TIP_ITEM, {
             formatter: (p) => "alarm: " + p.name + "\n" + p.value[0] }) };
  }

  function probChart(el, t) {
    const series = Object.keys(t.probabilities).map((c, k) => ({
      name: c, type: "line", showSymbol: t.times.length < 60, symbolSize: 4,
      data: t.times.map((x, j) => [x, t.probabilities[c][j]]),
      markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: palette[k % palette.length] },
                  label: { formatter: "alarm threshold {c}", position: "insideEndTop" },
                  data: [{ yAxis: t.thresholds[c] }] } }));
    series.push(alarmSeries(t, "fault", 1.0));
    draw(el, { legend: { top: 0 }, xAxis: Object.assign({ type: "time" }, axisName("recorded (UTC)")),
               yAxis: Object.assign({ type: "value", min: 0, max: 1.05 }, axisName("probability (0–1)"), { nameGap: 40 }),
               series: series });
  }

  function rmsChart(el, t) {
    const vals = t.rms_velocity_mm_s;
    const top = Math.max(t.zones ? t.zones.cd * 1.3 : 1, ...vals, 0) * 1.05;
    const bands = t.zones ? [
      [{ yAxis: 0, name: "A/B", itemStyle: { color: "rgba(26,127,55,0.10)" } }, { yAxis: t.zones.bc }],
      [{ yAxis: t.zones.bc, name: "C (alert ≥ " + t.zones.bc + ")", itemStyle: { color: "rgba(191,135,0,0.16)" } }, { yAxis: t.zones.cd }],
      [{ yAxis: t.zones.cd, name: "D (alarm ≥ " + t.zones.cd + ")", itemStyle: { color: "rgba(207,34,46,0.14)" } }, { yAxis: top }]] : [];
    draw(el, { legend: { top: 0 }, xAxis: Object.assign({ type: "time" }, axisName("recorded (UTC)")),
      yAxis: Object.assign({ type: "value", min: 0, max: +top.toFixed(2) }, axisName("RMS velocity (mm/s)"), { nameGap: 40 }),
      series: [{ name: "RMS velocity", type: "line", showSymbol: vals.length < 60, symbolSize: 4,
                 data: t.rms_times.map((x, j) => [x, vals[j]]),
                 markArea: { silent: true, label: { position: "insideTopLeft", color: "#57606a" }, data: bands } },
               alarmSeries(t, "zone", top * 0.95)] });
  }

  function anomalyChart(el, t) {
    const vals = t.anomaly_scores.filter((v) => v !== null);
    const thr = t.anomaly_threshold;
    const top = Math.max(thr ? thr * 2 : 1, ...vals, 0) * 1.05;
    const line = thr === null ? {} : { markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#cf222e" },
      label: { formatter: "threshold {c}", position: "insideEndTop" }, data: [{ yAxis: thr }] } };
    const b = t.baseline;
    const note = vals.length || !b ? {} : { title: { text: "baseline " + b.label + ": no score yet", left: "center",
      top: "68%", textStyle: { color: "#57606a", fontSize: 13, fontWeight: "normal" } } };
    draw(el, { ...note, legend: { top: 0 }, xAxis: Object.assign({ type: "time" }, axisName("recorded (UTC)")),
      yAxis: Object.assign({ type: "value", min: 0, max: +top.toFixed(2) }, axisName("anomaly score (robust z, RMS)"), { nameGap: 40 }),
      series: [Object.assign({ name: "anomaly score", type: "line", showSymbol: t.times.length < 60, symbolSize: 4,
                 connectNulls: false, data: t.times.map((x, j) => [x, t.anomaly_scores[j]]) }, line),
               alarmSeries(t, "anomaly", top * 0.95)] });
  }

  async function sgramChart(el) {
    const pid = el.dataset.prediction;
    const [sg, sal] = await Promise.all([
      getJSON("/api/v1/batches/" + el.dataset.batch + "/spectrogram?max_f=96&max_t=96"),
      pid ? getJSON("/api/v1/predictions/" + pid + "/saliency") : Promise.resolve(null)]);
    const cells = [];
    let lo = Infinity, hi = -Infinity;
    sg.db.forEach((row, f) => row.forEach((v, k) => {
      cells.push([k, f, v]); if (v > -Infinity) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }));
    const fmax = sg.freqs_hz[sg.freqs_hz.length - 1];
    // progressive: 0 draws all cells in one frame (screenshots and tests see the whole map)
    const series = [{ name: "power", type: "heatmap", data: cells, xAxisIndex: 0, yAxisIndex: 0, progressive: 0 }];
    const nearest = (f) => sg.freqs_hz.reduce((b, x, j) => Math.abs(x - f) < Math.abs(sg.freqs_hz[b] - f) ? j : b, 0);
    if (sal && sal.orders) {  // a defect-order model: its attribution per defect family, not over Hz
      return draw(el, sgramOptions(sg, lo, hi, series, familyAxes(sal, series)));
    }
    if (sal) {
      const prof = Array.isArray(sal.attribution[0]) ? sal.attribution.map((r) => r.reduce((a, b) => a + b, 0)) : sal.attribution;
      const peak = Math.max(...prof) || 1;
      series.push({ name: "saliency (" + sal.target_class + ")", type: "line", xAxisIndex: 1, yAxisIndex: 1, showSymbol: false,
                    areaStyle: { opacity: 0.25 }, color: "#bf3989",
                    data: sal.freqs_hz.map((f, j) => [prof[j] / peak, f]) });
      series[0].markLine = { silent: true, symbol: "none", lineStyle: { color: "#fff", type: "dashed", width: 1.5 },
        label: { color: "#fff", formatter: (p) => "saliency peak " + sg.freqs_hz[p.value] + " Hz", position: "insideStartTop" },
        data: sal.top_frequencies_hz.slice(0, 3).filter((f) => f <= fmax).map((f) => ({ yAxis: nearest(f) })) };
    }
    draw(el, sgramOptions(sg, lo, hi, series, {
      x: Object.assign({ type: "value", gridIndex: 1, min: 0, max: 1, splitNumber: 2 }, axisName("saliency (rel.)")),
      y: { type: "value", gridIndex: 1, min: 0, max: fmax, axisLabel: { show: false } } }));
  }

  // The right-hand panel of a defect-order model: attribution share per defect family (bars).
  function familyAxes(sal, series) {
    const fams = sal.families.slice().reverse();
    series.push({ name: "attribution share (" + sal.target_class + ")", type: "bar", xAxisIndex: 1, yAxisIndex: 1,
                  color: "#bf3989", data: fams.map((f) => +(100 * sal.family_shares[f]).toFixed(1)),
                  label: { show: true, position: "right", formatter: "{c}%", fontSize: 10 } });
    return { x: Object.assign({ type: "value", gridIndex: 1, min: 0, max: 100, splitNumber: 2 }, axisName("% of attribution")),
             y: { type: "category", gridIndex: 1, data: fams }, left: "81%", right: 40 };
  }

  function sgramOptions(sg, lo, hi, series, right) {
    const every = (n) => ({ interval: Math.max(0, Math.ceil(n / 8) - 1) });
    return { tooltip: TIP_ITEM, grid: [{ left: 64, right: "30%", top: 16, bottom: 84 }, { left: right.left || "74%", right: right.right || 16, top: 16, bottom: 84 }],
      xAxis: [Object.assign({ type: "category", data: sg.times_s.map((x) => x.toFixed(2)), gridIndex: 0, axisLabel: every(sg.times_s.length) }, axisName("time in snapshot (s)")),
              right.x],
      yAxis: [Object.assign({ type: "category", data: sg.freqs_hz.map((f) => f.toFixed(0)), gridIndex: 0, axisLabel: every(sg.freqs_hz.length) }, axisName("frequency (Hz)"), { nameGap: 48 }),
              right.y],
      visualMap: { seriesIndex: 0, min: Math.floor(lo), max: Math.ceil(hi), calculable: false, orient: "horizontal",
                   left: "center", bottom: 0, itemHeight: 160, text: [Math.ceil(hi) + " dB", Math.floor(lo) + " dB"],
                   inRange: { color: ["#0d0887", "#7e03a8", "#cc4778", "#f89540", "#f0f921"] } },
      series: series };
  }

  function defectLines(defects, harmonics) {
    const out = [];
    Object.entries(defects).forEach(([k, f]) => {
      const n = k === "1X" || k === "FTF" ? 1 : harmonics;
      for (let h = 1; h <= n; h++) { out.push({ xAxis: +(f * h).toFixed(2), name: (h > 1 ? h + "×" : "") + k }); }
    });
    return { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#cf222e", width: 1 },
             label: { formatter: "{b}", position: "insideEndTop", color: "#cf222e", fontSize: 10 }, data: out };
  }
  async function spectra(el) {
    const id = el.dataset.batch;
    spectraCache[id] = spectraCache[id] || getJSON("/ui/batches/" + id + "/spectra.json");
    return spectraCache[id];
  }
  async function specChart(el, envelope) {
    const s = await spectra(el);
    const d = envelope ? s.envelope : s.spectrum;
    const xmax = envelope ? d.freqs_hz[d.freqs_hz.length - 1] : Math.min(d.freqs_hz[d.freqs_hz.length - 1],
      Object.keys(s.defects_hz).length ? s.defects_hz.BPFI * 12 : Infinity);
    const note = (s.assumed_geometry ? "assumed " : "") + (s.bearing || "bearing") + (s.defects_rpm ? " at " + s.defects_rpm.toFixed(0) + " rpm" : ", no rpm") + (s.defects_rpm && s.rpm && s.defects_rpm !== s.rpm ? " (defect combs; " + s.rpm.toFixed(0) + " rpm given)" : "");
    draw(el, { title: { text: note + (envelope ? " · band " + d.band_hz[0] + "–" + d.band_hz[1] + " Hz" : ""), right: 8, top: 0,
                        textStyle: { fontSize: 11, fontWeight: "normal", color: "#57606a" } },
      xAxis: Object.assign({ type: "value", min: 0, max: Math.round(xmax) }, axisName("frequency (Hz)")),
      yAxis: Object.assign({ type: "value" }, axisName((envelope ? "envelope amplitude" : "amplitude") + " (" + s.unit + ")"), { nameGap: 48 }),
      grid: { left: 72, right: 24, top: 36, bottom: 52 },
      series: [{ name: envelope ? "envelope" : "spectrum", type: "line", showSymbol: false, lineStyle: { width: 1 },
                 data: d.freqs_hz.map((f, j) => [f, d.amplitude[j]]).filter((p) => p[0] <= xmax),
                 markLine: defectLines(s.defects_hz, envelope ? 3 : 1) }] });
  }

  const kinds = { prob: (el) => probChart(el, trends[+el.dataset.i]), rms: (el) => rmsChart(el, trends[+el.dataset.i]),
                  anomaly: (el) => anomalyChart(el, trends[+el.dataset.i]),
                  sgram: sgramChart, spec: (el) => specChart(el, false), env: (el) => specChart(el, true) };
  document.querySelectorAll(".chart").forEach((el) => {
    Promise.resolve().then(() => kinds[el.dataset.kind](el)).catch((err) => fail(el, err.message || err));
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();
