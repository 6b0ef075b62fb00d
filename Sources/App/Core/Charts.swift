import Foundation

/// Server-rendered SVG charts for the needs analysis (DESIGN.md §3.1 "Charts").
///
/// Every chart is a pure function from plain values to an SVG string that works without
/// JavaScript and is meant to pass axe-core (WCAG 2.2 AA):
/// - the root is `<svg xmlns=… role="img" aria-labelledby="ID-title ID-desc" viewBox=… width="100%">`
///   whose first children are `<title id="ID-title">` and `<desc id="ID-desc">`;
/// - all caller text is XML-escaped (`& < > " '`) and characters XML forbids are dropped;
/// - only presentation attributes (no `style`, no `<style>`, no scripts, no external fonts),
///   so a strict Content-Security-Policy needs nothing extra; font is `system-ui, sans-serif`;
/// - marks have at least 3:1 contrast with white and text at least 4.5:1 against what it sits on;
/// - output is deterministic: numbers are written with at most two decimals by integer arithmetic,
///   never through a locale, and nothing depends on dictionary order or randomness.
///
/// Text a chart shows (axis titles, quadrant names, "no data", formatted numbers) is passed in
/// already translated; the charts never look anything up. Insert the result into a Leaf page
/// unescaped (`#unsafeHTML(chart)`), and pair it with an HTML table of the same numbers for
/// people who cannot see the picture or reach the hover titles with a keyboard.
enum Charts {

    // MARK: - Common input

    /// The identity and text alternative of one chart.
    struct Caption: Sendable, Equatable {
        /// Unique on the page. The chart's element ids are `<idPrefix>-title`, `<idPrefix>-desc`
        /// (and `<idPrefix>-hatch` in the heat map). Characters other than `A–Z a–z 0–9 - _` become
        /// `-`, and a prefix that does not start with a letter gets `c-` in front, so the ids stay valid.
        var idPrefix: String
        /// Short accessible name, e.g. "Importance and performance by IaH area".
        var title: String
        /// The text alternative: a summary of what the chart shows (e.g. which areas are in
        /// "concentrate here"), read by screen readers through `aria-labelledby`.
        var description: String
        /// Shown instead of the chart when there is nothing to draw, e.g. "No data yet".
        var noDataMessage: String

        init(idPrefix: String, title: String, description: String, noDataMessage: String) {
            self.idPrefix = idPrefix
            self.title = title
            self.description = description
            self.noDataMessage = noDataMessage
        }
    }

    /// Colours used by every chart, with their contrast against white.
    enum Palette {
        /// Text: 14.68:1.
        static let text = "#1f2937"
        /// Secondary text (tick labels, quadrant names): 7.56:1.
        static let mutedText = "#4b5563"
        /// Axes, frames, crosshair and cell outlines: 4.83:1.
        static let axis = "#6b7280"
        /// Ordinary marks (points, bars): 6.70:1.
        static let mark = "#1d4ed8"
        /// Highlighted marks ("concentrate here"), always combined with a different shape: 6.47:1.
        static let highlight = "#b91c1c"
        static let background = "#ffffff"
        /// Background and stripes of a cell with no value (the "–" on it carries the meaning).
        static let missingFill = "#f3f4f6"
        static let missingHatch = "#9ca3af"
        /// Sequential palette of the heat map, light (0) to dark (1): ColorBrewer "Blues", 9 classes.
        static let sequential = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
                                 "#4292c6", "#2171b5", "#08519c", "#08306b"]
        /// The two text colours a heat-map cell chooses between. For any background one of them
        /// reaches at least √21 ≈ 4.58:1, so the larger of the two always passes 4.5:1.
        static let darkText = "#000000"
        static let lightText = "#ffffff"
    }

    static let fontFamily = "system-ui, sans-serif"

    // MARK: - Contrast (WCAG 2.x)

    /// The WCAG relative luminance of a colour written `#rgb` or `#rrggbb` (the `#` is optional);
    /// nil when the text is not such a colour.
    static func relativeLuminance(_ hex: String) -> Double? {
        guard let (r, g, b) = rgb(hex) else { return nil }
        func channel(_ c: Int) -> Double {
            let s = Double(c) / 255
            return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// The WCAG contrast ratio `(L1 + 0.05) / (L2 + 0.05)` of two colours, from 1 to 21,
    /// whichever order they come in; nil when either is not a hex colour.
    /// `contrastRatio("#000", "#fff") == 21`, `contrastRatio("#777777", "#ffffff") ≈ 4.48`.
    static func contrastRatio(_ hex1: String, _ hex2: String) -> Double? {
        guard let l1 = relativeLuminance(hex1), let l2 = relativeLuminance(hex2) else { return nil }
        return (max(l1, l2) + 0.05) / (min(l1, l2) + 0.05)
    }

    /// Of `Palette.darkText` and `Palette.lightText`, the one with more contrast on `background`.
    static func textColour(on background: String) -> String {
        let dark = contrastRatio(Palette.darkText, background) ?? 21
        let light = contrastRatio(Palette.lightText, background) ?? 1
        return dark >= light ? Palette.darkText : Palette.lightText
    }

    /// The heat-map colour of a value in 0…1 (clamped; NaN counts as 0), interpolated in sRGB
    /// between the stops of `Palette.sequential`.
    static func heatColour(_ value: Double) -> String {
        let stops = Palette.sequential.compactMap(rgb)
        let v = clamp(value.isNaN ? 0 : value, 0...1) * Double(stops.count - 1)
        let i = min(Int(v), stops.count - 2)
        let t = v - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        func mix(_ x: Int, _ y: Int) -> Int { Int((Double(x) + (Double(y) - Double(x)) * t).rounded()) }
        return hex(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    // MARK: - 1. Importance–performance scatter

    /// One IaH area in the importance–performance scatter.
    struct ScatterPoint: Sendable, Equatable {
        /// Printed next to the point: the area code, e.g. "A4".
        var label: String
        /// Mean performance P̄ on 1…5 (horizontal). Clamped to 1…5; a point with NaN is left out.
        var x: Double
        /// Mean importance Ī on 1…5 (vertical). Clamped to 1…5; a point with NaN is left out.
        var y: Double
        /// True when the analysis puts the area in "concentrate here": drawn as a red diamond
        /// instead of a blue circle (shape and colour, never colour alone).
        var highlighted: Bool
        /// Hover text of the point, e.g. "A4 Teaching and learning methods: importance 4.3, performance 2.1, n = 48".
        var tooltip: String

        init(label: String, x: Double, y: Double, highlighted: Bool, tooltip: String) {
            self.label = label
            self.x = x
            self.y = y
            self.highlighted = highlighted
            self.tooltip = tooltip
        }
    }

    /// A labelled position on an axis. Keep labels short (a number or a short word); longer
    /// labels are shortened with "…" and kept whole in a hover title.
    struct Tick: Sendable, Equatable {
        var value: Double
        var label: String

        init(value: Double, label: String) {
            self.value = value
            self.label = label
        }

        /// 1, 2, 3, 4, 5.
        static let oneToFive = (1...5).map { Tick(value: Double($0), label: String($0)) }
    }

    /// The translated words of the scatter.
    struct ScatterLabels: Sendable, Equatable {
        /// Horizontal axis title, e.g. "Performance (mean, 1–5)".
        var xAxis: String
        /// Vertical axis title, e.g. "Importance (mean, 1–5)".
        var yAxis: String
        /// Top-left quadrant: high importance, low performance. Also the legend of the diamond.
        var concentrateHere: String
        /// Top-right quadrant: high importance, high performance.
        var keepUpTheGoodWork: String
        /// Bottom-left quadrant: low importance, low performance.
        var lowPriority: String
        /// Bottom-right quadrant: low importance, high performance.
        var possibleOverkill: String
        var xTicks: [Tick]
        var yTicks: [Tick]

        init(xAxis: String, yAxis: String, concentrateHere: String, keepUpTheGoodWork: String,
             lowPriority: String, possibleOverkill: String,
             xTicks: [Tick] = Tick.oneToFive, yTicks: [Tick] = Tick.oneToFive) {
            self.xAxis = xAxis
            self.yAxis = yAxis
            self.concentrateHere = concentrateHere
            self.keepUpTheGoodWork = keepUpTheGoodWork
            self.lowPriority = lowPriority
            self.possibleOverkill = possibleOverkill
            self.xTicks = xTicks
            self.yTicks = yTicks
        }
    }

    /// Geometry of the scatter, in viewBox units. A value v on 1…5 lands at
    /// `x = plotLeft + (v − 1) / 4 · plotWidth` and `y = plotTop + plotHeight − (v − 1) / 4 · plotHeight`.
    enum ScatterLayout {
        static let width = 616.0
        static let height = 460.0
        static let plotLeft = 72.0
        static let plotTop = 20.0
        static let plotWidth = 520.0
        static let plotHeight = 360.0
        static let domain: ClosedRange<Double> = 1...5
        /// Circle radius, and half the diagonal of the diamond.
        static let pointRadius = 6.0
        static let diamondRadius = 8.0

        static var plotRight: Double { plotLeft + plotWidth }
        static var plotBottom: Double { plotTop + plotHeight }
        static func px(_ v: Double) -> Double {
            plotLeft + (clamp(v, domain) - domain.lowerBound) / (domain.upperBound - domain.lowerBound) * plotWidth
        }
        static func py(_ v: Double) -> Double {
            plotBottom - (clamp(v, domain) - domain.lowerBound) / (domain.upperBound - domain.lowerBound) * plotHeight
        }
    }

    /// Importance–performance scatter: one labelled point per area, dashed crosshair at the
    /// means (the quadrant boundaries), the four quadrant names in the corners, axis titles,
    /// tick labels and a legend for the "concentrate here" diamond.
    ///
    /// - Parameters:
    ///   - points: drawn in the given order; NaN coordinates are left out, others clamped to 1…5.
    ///   - meanX: where the vertical dashed line stands (mean performance over the areas).
    ///   - meanY: where the horizontal dashed line stands (mean importance over the areas).
    static func ipaScatter(_ points: [ScatterPoint], meanX: Double, meanY: Double,
                           labels: ScatterLabels, caption: Caption) -> String {
        typealias L = ScatterLayout
        let drawable = points.filter { !$0.x.isNaN && !$0.y.isNaN }
        guard !drawable.isEmpty else { return noData(caption, width: L.width) }
        let ids = ChartIDs(caption.idPrefix)
        var svg = SVG(width: L.width, height: L.height, ids: ids, caption: caption)
        let (left, top, right, bottom) = (L.plotLeft, L.plotTop, L.plotRight, L.plotBottom)

        // Frame and ticks.
        svg.add(#"<rect x="\#(num(left))" y="\#(num(top))" width="\#(num(L.plotWidth))" height="\#(num(L.plotHeight))" fill="\#(Palette.background)" stroke="\#(Palette.axis)" stroke-width="1"/>"#)
        let xSpacing = L.plotWidth / Double(max(labels.xTicks.count - 1, 1))
        svg.add(#"<g fill="\#(Palette.mutedText)" font-size="12" text-anchor="middle">"#)
        for tick in labels.xTicks where !tick.value.isNaN {
            let x = L.px(tick.value)
            svg.add(#"<line x1="\#(num(x))" y1="\#(num(bottom))" x2="\#(num(x))" y2="\#(num(bottom + 5))" stroke="\#(Palette.axis)" stroke-width="1"/>"#)
            svg.add(fittedText(tick.label, x: x, y: bottom + 20, maxWidth: xSpacing - 8, fontSize: 12))
        }
        svg.add("</g>")
        svg.add(#"<g fill="\#(Palette.mutedText)" font-size="12" text-anchor="end">"#)
        for tick in labels.yTicks where !tick.value.isNaN {
            let y = L.py(tick.value)
            svg.add(#"<line x1="\#(num(left - 5))" y1="\#(num(y))" x2="\#(num(left))" y2="\#(num(y))" stroke="\#(Palette.axis)" stroke-width="1"/>"#)
            svg.add(fittedText(tick.label, x: left - 8, y: y + 4, maxWidth: left - 36, fontSize: 12))
        }
        svg.add("</g>")

        // Axis titles.
        svg.add(#"<g fill="\#(Palette.text)" font-size="13" font-weight="600" text-anchor="middle">"#)
        svg.add(fittedText(labels.xAxis, x: left + L.plotWidth / 2, y: bottom + 42, maxWidth: L.plotWidth, fontSize: 13))
        let yTitleX = 20.0, yTitleY = top + L.plotHeight / 2
        svg.add(fittedText(labels.yAxis, x: yTitleX, y: yTitleY, maxWidth: L.plotHeight, fontSize: 13,
                           extra: #" transform="rotate(-90 \#(num(yTitleX)) \#(num(yTitleY)))""#))
        svg.add("</g>")

        // Crosshair at the means.
        let cx = L.px(finiteOr(meanX, 3)), cy = L.py(finiteOr(meanY, 3))
        svg.add(#"<g stroke="\#(Palette.text)" stroke-width="1.5" stroke-dasharray="6 4">"#)
        svg.add(#"<line x1="\#(num(cx))" y1="\#(num(top))" x2="\#(num(cx))" y2="\#(num(bottom))"/>"#)
        svg.add(#"<line x1="\#(num(left))" y1="\#(num(cy))" x2="\#(num(right))" y2="\#(num(cy))"/>"#)
        svg.add("</g>")

        // Quadrant names in the corners; remembered as occupied space for the point labels.
        var occupied: [Box] = []
        let quadrantWidth = L.plotWidth / 2 - 12
        let corners: [(String, Double, Double, String, Bool)] = [
            (labels.concentrateHere, left + 6, top + 16, "start", true),
            (labels.keepUpTheGoodWork, right - 6, top + 16, "end", false),
            (labels.lowPriority, left + 6, bottom - 8, "start", false),
            (labels.possibleOverkill, right - 6, bottom - 8, "end", false),
        ]
        svg.add(#"<g font-size="12" font-style="italic">"#)
        for (name, x, y, anchor, strong) in corners {
            let colour = strong ? Palette.highlight : Palette.mutedText
            let weight = strong ? #" font-weight="700""# : ""
            svg.add(fittedText(name, x: x, y: y, maxWidth: quadrantWidth, fontSize: 12,
                               extra: #" text-anchor="\#(anchor)" fill="\#(colour)"\#(weight)"#))
            let w = min(estimatedWidth(name, fontSize: 12), quadrantWidth)
            occupied.append(Box(textAt: x, y, width: w, anchor: anchor, fontSize: 12))
        }
        svg.add("</g>")

        // Points: marks first count as occupied, then labels are placed around them.
        let placed = drawable.map { (point: $0, x: L.px($0.x), y: L.py($0.y)) }
        for p in placed {
            let r = L.diamondRadius
            occupied.append(Box(left: p.x - r, top: p.y - r, right: p.x + r, bottom: p.y + r))
        }
        let plotBox = Box(left: left + 2, top: top + 2, right: right - 2, bottom: bottom - 2)
        for p in placed {
            svg.add("<g>")
            svg.add("<title>\(escape(p.point.tooltip))</title>")
            if p.point.highlighted {
                svg.add(#"<polygon points="\#(diamond(p.x, p.y, L.diamondRadius))" fill="\#(Palette.highlight)" stroke="\#(Palette.background)" stroke-width="1.5"/>"#)
            } else {
                svg.add(#"<circle cx="\#(num(p.x))" cy="\#(num(p.y))" r="\#(num(L.pointRadius))" fill="\#(Palette.mark)" stroke="\#(Palette.background)" stroke-width="1.5"/>"#)
            }
            let label = truncate(p.point.label, maxWidth: 80, fontSize: 13)
            let w = estimatedWidth(label, fontSize: 13)
            let spot = labelSpot(x: p.x, y: p.y, width: w, occupied: occupied, inside: plotBox)
            occupied.append(Box(textAt: spot.x, spot.y, width: w, anchor: spot.anchor, fontSize: 13))
            let weight = p.point.highlighted ? "700" : "600"
            svg.add(#"<text x="\#(num(spot.x))" y="\#(num(spot.y))" text-anchor="\#(spot.anchor)" font-size="13" font-weight="\#(weight)" fill="\#(Palette.text)" stroke="\#(Palette.background)" stroke-width="3" stroke-linejoin="round" paint-order="stroke">\#(escape(label))</text>"#)
            svg.add("</g>")
        }

        // Legend: the diamond means "concentrate here".
        let legendY = L.height - 14
        svg.add(#"<polygon points="\#(diamond(left + 8, legendY - 4, L.diamondRadius))" fill="\#(Palette.highlight)"/>"#)
        svg.add(fittedText(labels.concentrateHere, x: left + 22, y: legendY, maxWidth: L.plotWidth - 22, fontSize: 12,
                           extra: #" font-size="12" fill="\#(Palette.text)""#))
        return svg.finish()
    }

    // MARK: - 2. Ranked bars

    /// One bar of the ranked chart.
    struct Bar: Sendable, Equatable {
        /// Area code, printed in bold before the name, e.g. "A4".
        var code: String
        /// Translated area name; shortened with "…" when it does not fit, kept whole in the hover title.
        var name: String
        /// The value, normally the priority on 0…1; clamped to 0…`maxValue` (NaN counts as 0).
        var value: Double
        /// Number of responses behind the value; printed at the right end as "n = 123" when set.
        var n: Int?
        /// Extra hover text after name and value, e.g. the components "G 0.52 · F 0.80 · S 1".
        var detail: String?

        init(code: String, name: String, value: Double, n: Int? = nil, detail: String? = nil) {
            self.code = code
            self.name = name
            self.value = value
            self.n = n
            self.detail = detail
        }
    }

    /// Geometry of the bar chart, in viewBox units. Bar i (from 0) has
    /// `x = barX`, `y = top + i · rowHeight + (rowHeight − barHeight) / 2`,
    /// `width = value / maxValue · barMaxWidth`.
    enum BarLayout {
        static let width = 720.0
        static let labelX = 8.0
        static let labelMaxWidth = 266.0
        static let barX = 284.0
        static let barMaxWidth = 320.0
        static let rowHeight = 30.0
        static let barHeight = 20.0
        static let top = 10.0
        static let bottomPadding = 10.0
    }

    /// Horizontal bars in the order given (sort before calling), each labelled with code and name,
    /// the formatted value at the bar end and an optional "n = …" at the right edge.
    ///
    /// - Parameters:
    ///   - maxValue: the value drawn as a full-length bar (1 for a 0…1 priority).
    ///   - formatValue: writes the value at the bar end, e.g. a Croatian formatter giving "0,42".
    ///     It receives the clamped value, so text and bar length agree.
    ///   - formatCount: writes the annotation of `n`; default "n = 123".
    static func rankedBars(_ bars: [Bar], caption: Caption, maxValue: Double = 1,
                           formatValue: (Double) -> String = { Charts.fixed($0, decimals: 2) },
                           formatCount: (Int) -> String = { "n = \($0)" }) -> String {
        typealias L = BarLayout
        guard !bars.isEmpty else { return noData(caption, width: L.width) }
        let scaleMax = maxValue.isFinite && maxValue > 0 ? maxValue : 1
        let height = L.top + Double(bars.count) * L.rowHeight + L.bottomPadding
        var svg = SVG(width: L.width, height: height, ids: ChartIDs(caption.idPrefix), caption: caption)
        svg.add(#"<line x1="\#(num(L.barX))" y1="\#(num(L.top - 4))" x2="\#(num(L.barX))" y2="\#(num(height - L.bottomPadding + 4))" stroke="\#(Palette.axis)" stroke-width="1"/>"#)
        for (i, bar) in bars.enumerated() {
            let value = clamp(bar.value.isNaN ? 0 : bar.value, 0...scaleMax)
            let rowY = L.top + Double(i) * L.rowHeight
            let barY = rowY + (L.rowHeight - L.barHeight) / 2
            let baseline = rowY + L.rowHeight / 2 + 4.5
            let w = value / scaleMax * L.barMaxWidth
            let formatted = formatValue(value)
            var hover = "\(bar.code) \(bar.name): \(formatted)"
            if let n = bar.n { hover += " (\(formatCount(n)))" }
            if let detail = bar.detail, !detail.isEmpty { hover += " — \(detail)" }

            svg.add("<g>")
            svg.add("<title>\(escape(hover))</title>")
            let codeWidth = estimatedWidth(bar.code + " ", fontSize: 13, bold: true)
            let name = truncate(bar.name, maxWidth: max(L.labelMaxWidth - codeWidth, 0), fontSize: 13)
            svg.add(#"<text x="\#(num(L.labelX))" y="\#(num(baseline))" font-size="13" fill="\#(Palette.text)"><tspan font-weight="700">\#(escape(bar.code))</tspan> \#(escape(name))</text>"#)
            svg.add(#"<rect x="\#(num(L.barX))" y="\#(num(barY))" width="\#(num(w))" height="\#(num(L.barHeight))" fill="\#(Palette.mark)"/>"#)
            svg.add(#"<text x="\#(num(L.barX + w + 6))" y="\#(num(baseline))" font-size="13" font-weight="600" fill="\#(Palette.text)">\#(escape(formatted))</text>"#)
            if let n = bar.n {
                svg.add(#"<text x="\#(num(L.width - 8))" y="\#(num(baseline))" font-size="12" text-anchor="end" fill="\#(Palette.mutedText)">\#(escape(formatCount(n)))</text>"#)
            }
            svg.add("</g>")
        }
        return svg.finish()
    }

    // MARK: - 3. Heat map

    /// One row of the heat map: a country (or institution) and its values by column.
    struct HeatRow: Sendable, Equatable {
        /// Translated name, shortened with "…" when long and kept whole in the hover title.
        var name: String
        /// One value per column, 0…1 (clamped). nil, NaN or a missing trailing entry is "no value":
        /// a grey hatched cell with "–".
        var values: [Double?]

        init(name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    /// Geometry of the heat map, in viewBox units. Cell (row r, column c) has
    /// `x = gridX + c · cellWidth`, `y = gridTop + r · cellHeight`.
    enum HeatLayout {
        static let labelX = 8.0
        static let labelMaxWidth = 200.0
        static let gridX = 216.0
        static let gridTop = 32.0
        static let cellWidth = 48.0
        static let cellHeight = 32.0
        static let rightPadding = 8.0
        /// Values of the legend swatches.
        static let legendValues = [0.0, 0.25, 0.5, 0.75, 1.0]
    }

    /// Rows × columns of cells coloured by value (light = low, dark = high), the value printed in
    /// each cell in black or white, whichever contrasts more (always ≥ 4.5:1), "–" on hatched grey
    /// for missing values, and a legend of five swatches plus the missing-value swatch.
    ///
    /// - Parameters:
    ///   - columns: column headings, normally area codes ("A1" … "A13").
    ///   - legendTitle: e.g. "Area gap (0 = none, 1 = largest)".
    ///   - missingLabel: what a missing cell means, e.g. "no data or group too small".
    ///   - formatValue: writes cell and legend values (locale formatting), default "0.42".
    static func heatMap(rows: [HeatRow], columns: [String], caption: Caption,
                        legendTitle: String, missingLabel: String,
                        formatValue: (Double) -> String = { Charts.fixed($0, decimals: 2) }) -> String {
        typealias L = HeatLayout
        let swatchesWidth = Double(L.legendValues.count) * L.cellWidth
        let legendNeeds = L.labelX + swatchesWidth + 16 + L.cellWidth + 8
            + min(estimatedWidth(missingLabel, fontSize: 12), 400) + L.rightPadding
        let gridRight = L.gridX + Double(columns.count) * L.cellWidth
        let width = max(gridRight + L.rightPadding, legendNeeds, 320)
        guard !rows.isEmpty, !columns.isEmpty else { return noData(caption, width: width) }
        let ids = ChartIDs(caption.idPrefix)
        let gridBottom = L.gridTop + Double(rows.count) * L.cellHeight
        let legendTitleY = gridBottom + 28
        let legendTop = legendTitleY + 8
        let height = legendTop + 24 + 12
        var svg = SVG(width: width, height: height, ids: ids, caption: caption)
        svg.add("<defs>")
        svg.add(#"<pattern id="\#(ids.hatch)" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="\#(Palette.missingFill)"/><line x1="0" y1="0" x2="0" y2="6" stroke="\#(Palette.missingHatch)" stroke-width="1.5"/></pattern>"#)
        svg.add("</defs>")

        // Column headings.
        svg.add(#"<g font-size="12" font-weight="700" text-anchor="middle" fill="\#(Palette.text)">"#)
        for (c, code) in columns.enumerated() {
            let x = L.gridX + (Double(c) + 0.5) * L.cellWidth
            svg.add(fittedText(code, x: x, y: L.gridTop - 10, maxWidth: L.cellWidth - 4, fontSize: 12))
        }
        svg.add("</g>")

        // Rows.
        for (r, row) in rows.enumerated() {
            let y = L.gridTop + Double(r) * L.cellHeight
            svg.add(fittedText(row.name, x: L.labelX, y: y + L.cellHeight / 2 + 4.5, maxWidth: L.labelMaxWidth, fontSize: 13,
                               extra: #" font-size="13" fill="\#(Palette.text)""#))
            for (c, code) in columns.enumerated() {
                let raw: Double? = c < row.values.count ? row.values[c] : nil
                let value = raw.flatMap { $0.isNaN ? nil : clamp($0, 0...1) }
                let x = L.gridX + Double(c) * L.cellWidth
                let text = value.map(formatValue) ?? "–"
                svg.add("<g>")
                svg.add("<title>\(escape("\(row.name), \(code): \(value.map(formatValue) ?? missingLabel)"))</title>")
                svg.add(cell(x: x, y: y, width: L.cellWidth, height: L.cellHeight, value: value, text: text, ids: ids))
                svg.add("</g>")
            }
        }

        // Legend.
        svg.add(fittedText(legendTitle, x: L.labelX, y: legendTitleY, maxWidth: width - 2 * L.labelX, fontSize: 12,
                           extra: #" font-size="12" font-weight="600" fill="\#(Palette.text)""#))
        for (i, v) in L.legendValues.enumerated() {
            svg.add(cell(x: L.labelX + Double(i) * L.cellWidth, y: legendTop, width: L.cellWidth, height: 24,
                         value: v, text: formatValue(v), ids: ids))
        }
        let missingX = L.labelX + swatchesWidth + 16
        svg.add(cell(x: missingX, y: legendTop, width: L.cellWidth, height: 24, value: nil, text: "–", ids: ids))
        svg.add(fittedText(missingLabel, x: missingX + L.cellWidth + 8, y: legendTop + 16.5,
                           maxWidth: width - (missingX + L.cellWidth + 8) - L.rightPadding, fontSize: 12,
                           extra: #" font-size="12" fill="\#(Palette.text)""#))
        return svg.finish()
    }

    /// A coloured (or hatched, for nil) rectangle with its text centred in the contrasting colour.
    private static func cell(x: Double, y: Double, width: Double, height: Double,
                             value: Double?, text: String, ids: ChartIDs) -> String {
        let fill = value.map(heatColour) ?? "url(#\(ids.hatch))"
        let ink = value.map { textColour(on: heatColour($0)) } ?? Palette.text
        let weight = value == nil ? "700" : "600"
        return #"<rect x="\#(num(x))" y="\#(num(y))" width="\#(num(width))" height="\#(num(height))" fill="\#(fill)" stroke="\#(Palette.axis)" stroke-width="1"/>"#
            + "\n"
            + #"<text x="\#(num(x + width / 2))" y="\#(num(y + height / 2 + 4))" text-anchor="middle" font-size="12" font-weight="\#(weight)" fill="\#(ink)">\#(escape(text))</text>"#
    }

    // MARK: - Text and numbers

    /// `value` with exactly `decimals` decimals (0…6) and a "." separator, independent of any locale;
    /// half away from zero; NaN and infinities give "0" with those decimals.
    static func fixed(_ value: Double, decimals: Int) -> String {
        let d = min(max(decimals, 0), 6)
        var scale = 1.0
        for _ in 0..<d { scale *= 10 }
        let v = value.isFinite ? value : 0
        let scaled = (abs(v) * scale).rounded()
        guard scaled < 9e15 else { return String(format: "%.\(d)f", v) }
        let units = Int64(scaled)
        let p = Int64(scale)
        let whole = String(units / p)
        let sign = v < 0 && units != 0 ? "-" : ""
        guard d > 0 else { return sign + whole }
        var frac = String(units % p)
        while frac.count < d { frac = "0" + frac }
        return sign + whole + "." + frac
    }

    /// A coordinate: at most two decimals, trailing zeros dropped ("194", "107.5").
    static func num(_ value: Double) -> String {
        var s = fixed(value, decimals: 2)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// Escapes `& < > " '` and drops characters XML 1.0 does not allow (control characters
    /// other than tab, newline and carriage return, and U+FFFE, U+FFFF).
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A deliberately generous estimate of the rendered width of `text` in a sans-serif font
    /// (calibrated on DejaVu Sans, the widest usual fallback for `system-ui`), so that text
    /// shortened to fit does fit.
    static func estimatedWidth(_ text: String, fontSize: Double, bold: Bool = false) -> Double {
        var em = 0.0
        for character in text {
            guard let s = character.unicodeScalars.first else { continue }
            let v = s.value
            switch character {
            case " ", "i", "l", "j", "I", ".", ",", ":", ";", "|", "!", "'", "`": em += 0.32
            case "f", "r", "t", "(", ")", "[", "]", "{", "}", "-", "/", "\\", "\"": em += 0.42
            case "m", "w", "M", "W", "@", "—", "…": em += 1.0
            case "0"..."9": em += 0.64
            case "A"..."Z": em += 0.74
            case "a"..."z": em += 0.63
            default:
                if (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                    || (0xF900...0xFAFF).contains(v) || (0xFF00...0xFF60).contains(v) || v >= 0x1F300 {
                    em += 1.0
                } else {
                    em += 0.68
                }
            }
        }
        return em * fontSize * (bold ? 1.1 : 1)
    }

    /// `text` cut at a character boundary and ended with "…" so that it fits `maxWidth`;
    /// unchanged when it already fits.
    static func truncate(_ text: String, maxWidth: Double, fontSize: Double) -> String {
        guard estimatedWidth(text, fontSize: fontSize) > maxWidth else { return text }
        let room = maxWidth - estimatedWidth("…", fontSize: fontSize)
        var kept = ""
        var used = 0.0
        for character in text {
            let w = estimatedWidth(String(character), fontSize: fontSize)
            if used + w > room { break }
            kept.append(character)
            used += w
        }
        while let last = kept.last, last.isWhitespace || "([{-–/,;:".contains(last) { kept.removeLast() }
        return kept + "…"
    }

    // MARK: - Internals

    struct ChartIDs {
        let prefix: String
        var title: String { "\(prefix)-title" }
        var desc: String { "\(prefix)-desc" }
        var hatch: String { "\(prefix)-hatch" }

        init(_ raw: String) {
            var p = String(raw.unicodeScalars.map { s -> Character in
                let ok = ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "-" || s == "_"
                return ok ? Character(s) : "-"
            })
            if let first = p.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first) {
            } else {
                p = "c-" + p
            }
            prefix = p
        }
    }

    /// Collects the elements of one chart inside the common root and font group.
    struct SVG {
        private var lines: [String]

        init(width: Double, height: Double, ids: ChartIDs, caption: Caption) {
            lines = [
                #"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="\#(ids.title) \#(ids.desc)" viewBox="0 0 \#(num(width)) \#(num(height))" width="100%">"#,
                #"<title id="\#(ids.title)">\#(escape(caption.title))</title>"#,
                #"<desc id="\#(ids.desc)">\#(escape(caption.description))</desc>"#,
                #"<g font-family="\#(fontFamily)" fill="\#(Palette.text)">"#,
            ]
        }

        mutating func add(_ element: String) { lines.append(element) }

        func finish() -> String { (lines + ["</g>", "</svg>"]).joined(separator: "\n") + "\n" }
    }

    /// The chart frame with the caller's "no data" message in the middle.
    static func noData(_ caption: Caption, width: Double) -> String {
        let height = 120.0
        var svg = SVG(width: width, height: height, ids: ChartIDs(caption.idPrefix), caption: caption)
        svg.add(#"<rect x="1" y="1" width="\#(num(width - 2))" height="\#(num(height - 2))" fill="\#(Palette.background)" stroke="\#(Palette.axis)" stroke-width="1" stroke-dasharray="4 4"/>"#)
        svg.add(fittedText(caption.noDataMessage, x: width / 2, y: height / 2 + 5, maxWidth: width - 24, fontSize: 14,
                           extra: #" text-anchor="middle" font-size="14" fill="\#(Palette.text)""#))
        return svg.finish()
    }

    /// A `<text>` shortened to `maxWidth`; when shortened, the whole text is kept in a `<title>` child.
    private static func fittedText(_ text: String, x: Double, y: Double, maxWidth: Double,
                                   fontSize: Double, extra: String = "") -> String {
        let shown = truncate(text, maxWidth: max(maxWidth, 0), fontSize: fontSize)
        let title = shown == text ? "" : "<title>\(escape(text))</title>"
        return #"<text x="\#(num(x))" y="\#(num(y))"\#(extra)>\#(title)\#(escape(shown))</text>"#
    }

    private static func diamond(_ x: Double, _ y: Double, _ r: Double) -> String {
        "\(num(x)),\(num(y - r)) \(num(x + r)),\(num(y)) \(num(x)),\(num(y + r)) \(num(x - r)),\(num(y))"
    }

    struct Box {
        var left, top, right, bottom: Double

        init(left: Double, top: Double, right: Double, bottom: Double) {
            self.left = left; self.top = top; self.right = right; self.bottom = bottom
        }

        /// The space taken by a one-line text whose anchor point (baseline) is at x, y.
        init(textAt x: Double, _ y: Double, width: Double, anchor: String, fontSize: Double) {
            switch anchor {
            case "end": left = x - width
            case "middle": left = x - width / 2
            default: left = x
            }
            right = left + width
            top = y - fontSize * 0.8
            bottom = y + fontSize * 0.25
        }

        func overlaps(_ other: Box) -> Bool {
            left < other.right && other.left < right && top < other.bottom && other.top < bottom
        }

        func isInside(_ other: Box) -> Bool {
            left >= other.left && right <= other.right && top >= other.top && bottom <= other.bottom
        }
    }

    /// The first spot around a point where its label overlaps nothing and stays in the plot;
    /// failing that the first spot in the plot; failing that right of the point.
    private static func labelSpot(x: Double, y: Double, width: Double, occupied: [Box],
                                  inside plot: Box) -> (x: Double, y: Double, anchor: String) {
        let candidates: [(Double, Double, String)] = [
            (x + 11, y + 4.5, "start"), (x - 11, y + 4.5, "end"),
            (x, y - 12, "middle"), (x, y + 22, "middle"),
            (x + 8, y - 9, "start"), (x + 8, y + 19, "start"),
            (x - 8, y - 9, "end"), (x - 8, y + 19, "end"),
        ]
        let boxes = candidates.map { Box(textAt: $0.0, $0.1, width: width, anchor: $0.2, fontSize: 13) }
        let pick = zip(candidates, boxes).first { c, box in box.isInside(plot) && !occupied.contains { $0.overlaps(box) } }
            ?? zip(candidates, boxes).first { _, box in box.isInside(plot) }
        let c = pick?.0 ?? candidates[0]
        return (c.0, c.1, c.2)
    }

    private static func rgb(_ hex: String) -> (Int, Int, Int)? {
        var h = Substring(hex.trimmingCharacters(in: .whitespaces))
        if h.hasPrefix("#") { h = h.dropFirst() }
        guard h.allSatisfy(\.isHexDigit) else { return nil }
        if h.count == 3 { h = Substring(h.map { "\($0)\($0)" }.joined()) }
        guard h.count == 6, let v = Int(h, radix: 16) else { return nil }
        return ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)
    }

    private static func hex(_ r: Int, _ g: Int, _ b: Int) -> String {
        let digits = Array("0123456789abcdef")
        return "#" + [r, g, b].map { c -> String in
            let v = min(max(c, 0), 255)
            return String([digits[v >> 4], digits[v & 15]])
        }.joined()
    }

    static func clamp(_ v: Double, _ range: ClosedRange<Double>) -> Double {
        if v.isNaN { return range.lowerBound }
        return min(max(v, range.lowerBound), range.upperBound)
    }

    private static func finiteOr(_ v: Double, _ fallback: Double) -> Double { v.isNaN ? fallback : v }
}
