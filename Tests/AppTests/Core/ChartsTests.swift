@testable import App
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// Parsed SVG with small helpers to find elements by name, whatever their namespace.
private struct ParsedSVG {
    let root: XMLElement

    init(_ svg: String) throws {
        let document = try XMLDocument(xmlString: svg, options: [])
        root = try #require(document.rootElement())
    }

    func all(_ name: String) -> [XMLElement] { Self.collect(name, in: root) }

    static func collect(_ name: String, in element: XMLElement) -> [XMLElement] {
        var found: [XMLElement] = []
        if element.localName == name { found.append(element) }
        for child in element.children ?? [] {
            if let child = child as? XMLElement { found += collect(name, in: child) }
        }
        return found
    }
}

private extension XMLElement {
    /// An attribute's value. (Looked up by hand: on Linux, `attribute(forName:)` finds nothing on
    /// elements in a default namespace such as SVG's.)
    func attr(_ name: String) -> String? { attributes?.first { $0.name == name }?.stringValue }
    /// This element and its descendants named `name`, in document order.
    func all(_ name: String) -> [XMLElement] { ParsedSVG.collect(name, in: self) }
    func number(_ name: String) -> Double? { attr(name).flatMap(Double.init) }
    var elementChildren: [XMLElement] { (children ?? []).compactMap { $0 as? XMLElement } }
    /// The `<title>` child's text, if any.
    var titleText: String? { elementChildren.first { $0.localName == "title" }?.stringValue }
    /// Own text without the text of a `<title>` child.
    var shownText: String {
        (children ?? []).filter { ($0 as? XMLElement)?.localName != "title" }.map { $0.stringValue ?? "" }.joined()
    }
}

private func caption(_ id: String, title: String = "Chart title", description: String = "What the chart shows") -> Charts.Caption {
    Charts.Caption(idPrefix: id, title: title, description: description, noDataMessage: "No data yet")
}

private let scatterLabels = Charts.ScatterLabels(
    xAxis: "Performance (mean, 1–5)", yAxis: "Importance (mean, 1–5)",
    concentrateHere: "Concentrate here", keepUpTheGoodWork: "Keep up the good work",
    lowPriority: "Low priority", possibleOverkill: "Possible overkill")

private let scatterPoints = [
    Charts.ScatterPoint(label: "A1", x: 2, y: 4, highlighted: false, tooltip: "A1 Strategy"),
    Charts.ScatterPoint(label: "A4", x: 1.5, y: 4.6, highlighted: true, tooltip: "A4 Teaching & learning"),
    Charts.ScatterPoint(label: "A9", x: 7, y: -1, highlighted: false, tooltip: "A9 out of range"),
]

private func scatter(_ points: [Charts.ScatterPoint] = scatterPoints) -> String {
    Charts.ipaScatter(points, meanX: 3.4, meanY: 3.8, labels: scatterLabels, caption: caption("ipa"))
}

private let sampleBars = [
    Charts.Bar(code: "A7", name: "Staff competence & recognition", value: 0.42, n: 123, detail: "G 0.52 · F 0.8 · S 1"),
    Charts.Bar(code: "A3", name: "Curriculum and intended learning outcomes (internationalisation of the curriculum)", value: 0.84, n: 57),
    Charts.Bar(code: "A12", name: "Digital infrastructure", value: 0.1),
    Charts.Bar(code: "A1", name: "Strategy", value: 1.3),
    Charts.Bar(code: "A2", name: "Structures", value: -0.2),
]

/// A Croatian-style formatter: two decimals with a decimal comma.
private func croatian(_ v: Double) -> String { Charts.fixed(v, decimals: 2).replacingOccurrences(of: ".", with: ",") }

private func bars(_ input: [Charts.Bar] = sampleBars) -> String {
    Charts.rankedBars(input, caption: caption("bars"), formatValue: croatian)
}

private let heatRows = [
    Charts.HeatRow(name: "Serbia", values: [0.05, 0.95, nil, 0.5]),
    Charts.HeatRow(name: "North Macedonia", values: [1.4, -0.3, .nan]),  // last column missing
]
private let heatColumns = ["A1", "A2", "A3", "A4"]

private func heat(_ rows: [Charts.HeatRow] = heatRows) -> String {
    Charts.heatMap(rows: rows, columns: heatColumns, caption: caption("heat"),
                   legendTitle: "Area gap (0–1)", missingLabel: "no data or group too small")
}

@Suite("Server-rendered SVG charts")
struct ChartsTests {

    // MARK: Contrast

    @Test("contrast ratio follows WCAG relative luminance")
    func contrast() throws {
        #expect(abs(try #require(Charts.contrastRatio("#000", "#fff")) - 21) < 1e-9)
        #expect(abs(try #require(Charts.contrastRatio("#ffffff", "#000000")) - 21) < 1e-9)
        #expect(abs(try #require(Charts.contrastRatio("#777777", "#ffffff")) - 4.48) < 0.005)
        #expect(abs(try #require(Charts.contrastRatio("#767676", "#fff")) - 4.54) < 0.005)
        #expect(abs(try #require(Charts.contrastRatio("fff", "#FFFFFF")) - 1) < 1e-9)
        #expect(Charts.contrastRatio("#12345", "#fff") == nil)
        #expect(Charts.contrastRatio("blue", "#fff") == nil)
    }

    @Test("palette: text at least 4.5:1 and marks at least 3:1 on white")
    func paletteContrast() throws {
        for text in [Charts.Palette.text, Charts.Palette.mutedText] {
            #expect(try #require(Charts.contrastRatio(text, "#ffffff")) >= 4.5, "\(text)")
        }
        for mark in [Charts.Palette.mark, Charts.Palette.highlight, Charts.Palette.axis] {
            #expect(try #require(Charts.contrastRatio(mark, "#ffffff")) >= 3, "\(mark)")
        }
        // The "–" of a missing cell stands on the light fill and on the hatch stripes.
        #expect(try #require(Charts.contrastRatio(Charts.Palette.text, Charts.Palette.missingFill)) >= 4.5)
        #expect(try #require(Charts.contrastRatio(Charts.Palette.text, Charts.Palette.missingHatch)) >= 4.5)
    }

    @Test("heat-map colours run light to dark and the chosen text colour always reaches 4.5:1")
    func heatPalette() throws {
        #expect(Charts.heatColour(0) == "#f7fbff")
        #expect(Charts.heatColour(1) == "#08306b")
        #expect(Charts.heatColour(2) == "#08306b")
        #expect(Charts.heatColour(-1) == "#f7fbff")
        var previous = 2.0
        for step in 0...100 {
            let colour = Charts.heatColour(Double(step) / 100)
            let luminance = try #require(Charts.relativeLuminance(colour))
            #expect(luminance <= previous, "palette is not sequential at \(step)")
            previous = luminance
            let ink = Charts.textColour(on: colour)
            #expect(try #require(Charts.contrastRatio(ink, colour)) >= 4.5, "\(ink) on \(colour)")
        }
        #expect(Charts.textColour(on: Charts.heatColour(0.05)) == Charts.Palette.darkText)
        #expect(Charts.textColour(on: Charts.heatColour(0.95)) == Charts.Palette.lightText)
    }

    // MARK: Common structure

    @Test("every chart parses as XML and has role img, title and desc with the right ids")
    func rootAndTextAlternative() throws {
        let outputs = [("ipa", scatter()), ("bars", bars()), ("heat", heat()),
                       ("ipa", scatter([])), ("bars", bars([])), ("heat", heat([]))]
        for (id, svg) in outputs {
            let parsed = try ParsedSVG(svg)
            let root = parsed.root
            #expect(root.localName == "svg")
            #expect(root.uri == "http://www.w3.org/2000/svg")
            #expect(root.attr("role") == "img")
            #expect(root.attr("aria-labelledby") == "\(id)-title \(id)-desc")
            #expect(root.attr("width") == "100%")
            let viewBox = try #require(root.attr("viewBox")).split(separator: " ").compactMap { Double($0) }
            #expect(viewBox.count == 4 && viewBox[0] == 0 && viewBox[1] == 0 && viewBox[2] > 0 && viewBox[3] > 0)
            let children = root.elementChildren
            #expect(children.count >= 3)
            #expect(children[0].localName == "title" && children[0].attr("id") == "\(id)-title")
            #expect(children[0].stringValue == "Chart title")
            #expect(children[1].localName == "desc" && children[1].attr("id") == "\(id)-desc")
            #expect(children[1].stringValue == "What the chart shows")
            #expect(svg.hasPrefix(#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="\#(id)-title \#(id)-desc" viewBox=""#))
            // Self-contained: no scripts, stylesheets, style attributes, links or external fonts.
            for forbidden in ["<script", "<style", " style=", "href", "@import", "url(http", "<foreignObject", "@font-face"] {
                #expect(!svg.contains(forbidden), "\(forbidden)")
            }
            #expect(svg.contains(#"font-family="system-ui, sans-serif""#))
            // ids are unique.
            let ids = Self.allIDs(root)
            #expect(Set(ids).count == ids.count)
        }
    }

    static func allIDs(_ element: XMLElement) -> [String] {
        (element.attr("id").map { [$0] } ?? []) + element.elementChildren.flatMap(allIDs)
    }

    @Test("empty input renders the caller's no-data message")
    func noData() throws {
        for svg in [scatter([]), bars([]), heat([]),
                    Charts.heatMap(rows: heatRows, columns: [], caption: caption("heat"), legendTitle: "x", missingLabel: "y"),
                    scatter([Charts.ScatterPoint(label: "A1", x: .nan, y: 3, highlighted: false, tooltip: "")])] {
            let texts = try ParsedSVG(svg).all("text").map(\.shownText)
            #expect(texts == ["No data yet"])
        }
    }

    @Test("caller text is XML-escaped everywhere")
    func escaping() throws {
        let nasty = #"A<1> & "x" 'y'"#
        #expect(Charts.escape(nasty) == "A&lt;1&gt; &amp; &quot;x&quot; &#39;y&#39;")
        #expect(Charts.escape("a\u{0}b\u{1B}c\td") == "abc\td")

        let nastyCaption = Charts.Caption(idPrefix: "x", title: nasty, description: nasty, noDataMessage: nasty)
        let charts = [
            Charts.ipaScatter([.init(label: nasty, x: 3, y: 3, highlighted: true, tooltip: nasty)], meanX: 3, meanY: 3,
                              labels: .init(xAxis: nasty, yAxis: nasty, concentrateHere: nasty, keepUpTheGoodWork: nasty,
                                            lowPriority: nasty, possibleOverkill: nasty,
                                            xTicks: [.init(value: 1, label: "<1")], yTicks: [.init(value: 5, label: "5>")]),
                              caption: nastyCaption),
            Charts.rankedBars([.init(code: nasty, name: nasty, value: 0.5, n: 3, detail: nasty)], caption: nastyCaption,
                              formatValue: { _ in "<&>" }),
            Charts.heatMap(rows: [.init(name: nasty, values: [0.5, nil])], columns: [nasty, "A2"], caption: nastyCaption,
                           legendTitle: nasty, missingLabel: nasty),
            Charts.ipaScatter([], meanX: 3, meanY: 3, labels: scatterLabels, caption: nastyCaption),
        ]
        for svg in charts {
            let parsed = try ParsedSVG(svg)
            #expect(svg.contains("A&lt;1&gt; &amp; &quot;x&quot; &#39;y&#39;"))
            #expect(!svg.contains(nasty))
            #expect(parsed.all("title").first?.stringValue == nasty)
            #expect(parsed.all("desc").first?.stringValue == nasty)
        }
        // The point label and the hover title come back intact after parsing.
        let parsed = try ParsedSVG(charts[0])
        #expect(parsed.all("g").contains { $0.titleText == nasty && $0.all("polygon").count == 1 })
        #expect(parsed.all("text").contains { $0.shownText == nasty })
    }

    @Test("an id prefix is made into a valid XML id")
    func idPrefix() throws {
        let svg = Charts.rankedBars([.init(code: "A1", name: "x", value: 0.5)],
                                    caption: Charts.Caption(idPrefix: "1 chart/ä", title: "t", description: "d", noDataMessage: "n"))
        let root = try ParsedSVG(svg).root
        // "1 chart/ä": space, slash and ä become "-", and the leading digit gets "c-".
        #expect(root.attr("aria-labelledby") == "c-1-chart---title c-1-chart---desc")
        #expect(root.elementChildren[0].attr("id") == "c-1-chart---title")
    }

    @Test("determinism: the same input gives the same string")
    func determinism() {
        #expect(scatter() == scatter())
        #expect(bars() == bars())
        #expect(heat() == heat())
    }

    @Test("numbers are written without a locale")
    func numbers() {
        #expect(Charts.fixed(0.425, decimals: 2) == "0.43" || Charts.fixed(0.425, decimals: 2) == "0.42")
        #expect(Charts.fixed(0.5, decimals: 2) == "0.50")
        #expect(Charts.fixed(-0.001, decimals: 2) == "0.00")
        #expect(Charts.fixed(-1.25, decimals: 1) == "-1.3")
        #expect(Charts.fixed(2.5, decimals: 0) == "3")
        #expect(Charts.fixed(.nan, decimals: 2) == "0.00")
        #expect(Charts.fixed(1234.5678, decimals: 3) == "1234.568")
        #expect(Charts.num(194) == "194")
        #expect(Charts.num(107.5) == "107.5")
        #expect(Charts.num(-0.001) == "0")
    }

    // MARK: Scatter

    @Test("scatter places points by the documented scale, clamps, and draws the crosshair at the means")
    func scatterGeometry() throws {
        let parsed = try ParsedSVG(scatter())
        // x = 72 + (v − 1) / 4 · 520, y = 380 − (v − 1) / 4 · 360
        let circles = parsed.all("circle")
        #expect(circles.count == 2)
        #expect(circles[0].number("cx") == 202)   // performance 2
        #expect(circles[0].number("cy") == 110)   // importance 4
        #expect(circles[1].number("cx") == 592)   // performance 7 → clamped to 5
        #expect(circles[1].number("cy") == 380)   // importance −1 → clamped to 1
        #expect(circles[0].number("r") == Charts.ScatterLayout.pointRadius)

        // Highlighted point: a diamond centred on (1.5, 4.6) → (137, 56).
        let diamonds = parsed.all("g").filter { $0.titleText != nil }
            .flatMap { $0.elementChildren.filter { $0.localName == "polygon" } }
        #expect(diamonds.count == 1)
        #expect(diamonds[0].attr("points") == "137,48 145,56 137,64 129,56")
        #expect(diamonds[0].attr("fill") == Charts.Palette.highlight)
        #expect(circles[0].attr("fill") == Charts.Palette.mark)
        #expect(Charts.Palette.highlight != Charts.Palette.mark)

        // Dashed crosshair at performance 3.4 → x 384 and importance 3.8 → y 128.
        let dashed = try #require(parsed.all("g").first { $0.attr("stroke-dasharray") != nil })
        let lines = dashed.elementChildren
        #expect(lines.count == 2)
        #expect(lines[0].number("x1") == 384 && lines[0].number("x2") == 384)
        #expect(lines[0].number("y1") == 20 && lines[0].number("y2") == 380)
        #expect(lines[1].number("y1") == 128 && lines[1].number("y2") == 128)
        #expect(lines[1].number("x1") == 72 && lines[1].number("x2") == 592)

        // Each point carries its tooltip and its label.
        let pointGroups = parsed.all("g").filter { $0.titleText != nil && ($0.all("circle").count + $0.all("polygon").count) == 1 }
        #expect(pointGroups.map { $0.titleText } == ["A1 Strategy", "A4 Teaching & learning", "A9 out of range"])
        #expect(pointGroups.map { $0.all("text").first?.shownText } == ["A1", "A4", "A9"])
    }

    @Test("scatter shows quadrant names in the right corners, axis titles and tick labels")
    func scatterTexts() throws {
        let texts = try ParsedSVG(scatter()).all("text")
        func find(_ s: String) throws -> XMLElement { try #require(texts.first { $0.shownText == s }, "\(s)") }
        let (left, top, right, bottom) = (72.0, 20.0, 592.0, 380.0)
        let concentrate = try find("Concentrate here")
        #expect(try #require(concentrate.number("x")) < (left + right) / 2)
        #expect(try #require(concentrate.number("y")) < (top + bottom) / 2)
        let keepUp = try find("Keep up the good work")
        #expect(try #require(keepUp.number("x")) > (left + right) / 2)
        #expect(try #require(keepUp.number("y")) < (top + bottom) / 2)
        #expect(keepUp.attr("text-anchor") == "end")
        let low = try find("Low priority")
        #expect(try #require(low.number("x")) < (left + right) / 2)
        #expect(try #require(low.number("y")) > (top + bottom) / 2)
        let overkill = try find("Possible overkill")
        #expect(try #require(overkill.number("x")) > (left + right) / 2)
        #expect(try #require(overkill.number("y")) > (top + bottom) / 2)
        _ = try find("Performance (mean, 1–5)")
        let yTitle = try find("Importance (mean, 1–5)")
        #expect(yTitle.attr("transform")?.hasPrefix("rotate(-90") == true)
        for tick in ["1", "2", "3", "4", "5"] {
            #expect(texts.filter { $0.shownText == tick }.count == 2, "tick \(tick) on both axes")
        }
        // The legend repeats the quadrant name next to a diamond.
        #expect(texts.filter { $0.shownText == "Concentrate here" }.count == 2)
    }

    @Test("scatter point labels avoid each other when points coincide")
    func scatterLabelsDoNotCollide() throws {
        let points = (1...4).map { Charts.ScatterPoint(label: "A\($0)", x: 3, y: 3, highlighted: false, tooltip: "") }
        let svg = Charts.ipaScatter(points, meanX: 2, meanY: 2, labels: scatterLabels, caption: caption("ipa"))
        let labels = try ParsedSVG(svg).all("text").filter { $0.shownText.hasPrefix("A") && $0.shownText.count == 2 }
        let spots = Set(labels.map { "\($0.attr("x")!),\($0.attr("y")!)" })
        #expect(labels.count == 4 && spots.count == 4)
    }

    // MARK: Bars

    @Test("bars keep the given order and have widths proportional to their values")
    func barGeometry() throws {
        let parsed = try ParsedSVG(bars())
        let rects = parsed.all("rect")
        #expect(rects.count == 5)
        // width = value / 1 · 320, the value clamped to 0…1
        #expect(Charts.BarLayout.barMaxWidth == 320)
        let widths = rects.compactMap { $0.number("width") }
        let expected = [0.42, 0.84, 0.1, 1, 0].map { $0 * 320 }
        #expect(widths.count == 5 && zip(widths, expected).allSatisfy { abs($0 - $1) < 0.01 }, "\(widths)")
        #expect(widths == [134.4, 268.8, 32, 320, 0])
        #expect(rects.allSatisfy { $0.number("x") == Charts.BarLayout.barX })
        let ys = rects.compactMap { $0.number("y") }
        #expect(ys == [15, 45, 75, 105, 135])
        #expect(ys == ys.sorted())
        // Order as given: the bold code of each row.
        #expect(parsed.all("tspan").map(\.stringValue) == ["A7", "A3", "A12", "A1", "A2"])
        // Values formatted by the caller's formatter at the bar end; n when given.
        let texts = parsed.all("text")
        let value = try #require(texts.first { $0.shownText == "0,42" })
        #expect(value.number("x") == 284 + 134.4 + 6)
        #expect(texts.contains { $0.shownText == "1,00" })   // 1.3 clamped
        #expect(texts.contains { $0.shownText == "0,00" })   // −0.2 clamped
        #expect(texts.filter { $0.shownText.hasPrefix("n = ") }.map(\.shownText) == ["n = 123", "n = 57"])
    }

    @Test("a long bar name is shortened with an ellipsis and kept whole in the bar's title")
    func barTruncation() throws {
        let parsed = try ParsedSVG(bars())
        let groups = parsed.all("g").filter { $0.titleText != nil && !$0.all("rect").isEmpty }
        #expect(groups.count == 5)
        let long = sampleBars[1].name
        let label = try #require(groups[1].all("text").first)
        #expect(label.shownText.hasSuffix("…"))
        #expect(label.shownText.count < long.count + 4)
        #expect(long.hasPrefix(String(label.shownText.dropFirst(3).dropLast())))
        #expect(groups[1].titleText == "A3 \(long): 0,84 (n = 57)")
        #expect(groups[0].titleText == "A7 Staff competence & recognition: 0,42 (n = 123) — G 0.52 · F 0.8 · S 1")
        #expect(try #require(groups[0].all("text").first).shownText == "A7 Staff competence & recognition")
        // The shortened label fits its column.
        let estimated = Charts.estimatedWidth(label.shownText, fontSize: 13)
        #expect(estimated <= Charts.BarLayout.labelMaxWidth + 1)
    }

    @Test("bars scale to a caller's maximum")
    func barMaximum() throws {
        let svg = Charts.rankedBars([.init(code: "A1", name: "x", value: 1.25), .init(code: "A2", name: "y", value: 0.5)],
                                    caption: caption("bars"), maxValue: 1.25)
        #expect(try ParsedSVG(svg).all("rect").map { $0.number("width") } == [320, 128])
    }

    // MARK: Heat map

    @Test("heat-map cells: colour by value, dark text on light cells, light text on dark cells, – for missing")
    func heatCells() throws {
        let parsed = try ParsedSVG(heat())
        let cells = parsed.all("g").filter { $0.titleText != nil && $0.all("rect").count == 1 }
        #expect(cells.count == 8)
        func parts(_ g: XMLElement) -> (fill: String?, ink: String?, text: String, title: String?) {
            let text = g.all("text").first
            return (g.all("rect").first?.attr("fill"), text?.attr("fill"), text?.shownText ?? "", g.titleText)
        }
        let light = parts(cells[0])
        #expect(light.fill == Charts.heatColour(0.05))
        #expect(light.ink == "#000000")
        #expect(light.text == "0.05")
        #expect(light.title == "Serbia, A1: 0.05")
        let dark = parts(cells[1])
        #expect(dark.fill == Charts.heatColour(0.95))
        #expect(dark.ink == "#ffffff")
        #expect(try #require(Charts.contrastRatio(dark.ink!, dark.fill!)) >= 4.5)
        #expect(try #require(Charts.contrastRatio(light.ink!, light.fill!)) >= 4.5)

        let missing = parts(cells[2])
        #expect(missing.text == "–")
        #expect(missing.fill == "url(#heat-hatch)")
        #expect(missing.title == "Serbia, A3: no data or group too small")
        // Out of range clamps; NaN and a short row are missing.
        #expect(parts(cells[4]).text == "1.00" && parts(cells[4]).ink == "#ffffff")
        #expect(parts(cells[5]).text == "0.00" && parts(cells[5]).ink == "#000000")
        #expect(parts(cells[6]).text == "–")
        #expect(parts(cells[7]).text == "–")
        #expect(cells[7].titleText == "North Macedonia, A4: no data or group too small")

        // Cell position: x = 216 + c · 48, y = 32 + r · 32.
        let rect = try #require(cells[5].all("rect").first)
        #expect(rect.number("x") == 264 && rect.number("y") == 64)
        // The hatch pattern exists with the prefixed id.
        #expect(parsed.all("pattern").map { $0.attr("id") } == ["heat-hatch"])
    }

    @Test("heat map shows headings, row names and a legend")
    func heatLegend() throws {
        let texts = try ParsedSVG(heat()).all("text").map(\.shownText)
        for heading in heatColumns + ["Serbia", "North Macedonia", "Area gap (0–1)", "no data or group too small"] {
            #expect(texts.contains(heading), "\(heading)")
        }
        for swatch in ["0.00", "0.25", "0.50", "0.75", "1.00"] {
            #expect(texts.contains(swatch), "\(swatch)")
        }
        // A locale formatter is used for cells and legend alike.
        let croatianMap = Charts.heatMap(rows: heatRows, columns: heatColumns, caption: caption("heat"),
                                         legendTitle: "Jaz", missingLabel: "nema podataka", formatValue: croatian)
        let hrTexts = try ParsedSVG(croatianMap).all("text").map(\.shownText)
        #expect(hrTexts.contains("0,05") && hrTexts.contains("0,25") && !hrTexts.contains("0.05"))
    }
}
