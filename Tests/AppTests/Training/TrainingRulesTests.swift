@testable import App
import Foundation
import Testing

@Suite("Training rules")
struct TrainingRulesTests {
    typealias Record = TrainingRules.Record

    @Test("completion: the attended share reaches the minimum, and the evaluation when the event asks for it")
    func completion() {
        // 3 of 4 sessions meets 75 % exactly; 2 of 4 does not.
        #expect(TrainingRules.isComplete(Record(sessions: 4, present: 3, evaluated: true), minAttendance: 0.75, requiresEvaluation: true))
        #expect(!TrainingRules.isComplete(Record(sessions: 4, present: 2, evaluated: true), minAttendance: 0.75, requiresEvaluation: true))
        // Without the evaluation: not complete when it is required, complete when it is not.
        #expect(!TrainingRules.isComplete(Record(sessions: 4, present: 4, evaluated: false), minAttendance: 0.75, requiresEvaluation: true))
        #expect(TrainingRules.isComplete(Record(sessions: 4, present: 4, evaluated: false), minAttendance: 0.75, requiresEvaluation: false))
        // 2 of 3 = 66.7 % against 2/3 and 0.67.
        #expect(TrainingRules.isComplete(Record(sessions: 3, present: 2, evaluated: false), minAttendance: 2.0 / 3.0, requiresEvaluation: false))
        #expect(!TrainingRules.isComplete(Record(sessions: 3, present: 2, evaluated: false), minAttendance: 0.67, requiresEvaluation: false))
        // Nobody completes an event that has not taken place, or without attending at all (even at a 0 % minimum).
        #expect(!TrainingRules.isComplete(Record(sessions: 0, present: 0, evaluated: true), minAttendance: 0, requiresEvaluation: false))
        #expect(!TrainingRules.isComplete(Record(sessions: 2, present: 0, evaluated: true), minAttendance: 0, requiresEvaluation: false))
        #expect(TrainingRules.attendanceShare(Record(sessions: 4, present: 1, evaluated: false)) == 0.25)
        // More marks than sessions never count above 100 %.
        #expect(TrainingRules.attendanceShare(Record(sessions: 2, present: 5, evaluated: false)) == 1)
    }

    @Test("re-trained: a further completion in an area already completed, or any refresher event")
    func retrained() {
        #expect(!TrainingRules.isRetrained(eventAreas: ["A3"], isRefresher: false, earlierAreas: []))
        #expect(!TrainingRules.isRetrained(eventAreas: ["A3", "A4"], isRefresher: false, earlierAreas: ["A1", "A7"]))
        #expect(TrainingRules.isRetrained(eventAreas: ["A3", "A4"], isRefresher: false, earlierAreas: ["A4"]))
        #expect(TrainingRules.isRetrained(eventAreas: ["A9"], isRefresher: true, earlierAreas: []))
    }

    @Test("places: registered while there is room, waiting list when full, pending when the organiser approves")
    func placement() {
        #expect(TrainingRules.placement(registered: 0, capacity: 2, requiresApproval: false) == .registered)
        #expect(TrainingRules.placement(registered: 1, capacity: 2, requiresApproval: false) == .registered)
        #expect(TrainingRules.placement(registered: 2, capacity: 2, requiresApproval: false) == .waitlisted)
        #expect(TrainingRules.placement(registered: 0, capacity: 2, requiresApproval: true) == .pending)
        #expect(TrainingRules.promotions(registered: 1, capacity: 3, waiting: 5) == 2)
        #expect(TrainingRules.promotions(registered: 1, capacity: 3, waiting: 1) == 1)
        #expect(TrainingRules.promotions(registered: 3, capacity: 3, waiting: 4) == 0)
        #expect(TrainingRules.promotions(registered: 5, capacity: 3, waiting: 4) == 0)
    }

    @Test("registration window and the check-in window")
    func windows() {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(TrainingRules.registrationOpen(now: t, opens: nil, closes: nil, firstSessionStart: nil))
        #expect(!TrainingRules.registrationOpen(now: t, opens: t.addingTimeInterval(60), closes: nil, firstSessionStart: nil))
        #expect(!TrainingRules.registrationOpen(now: t, opens: nil, closes: t.addingTimeInterval(-1), firstSessionStart: nil))
        #expect(!TrainingRules.registrationOpen(now: t, opens: nil, closes: nil, firstSessionStart: t))
        #expect(TrainingRules.registrationOpen(now: t, opens: t.addingTimeInterval(-60), closes: t.addingTimeInterval(60), firstSessionStart: t.addingTimeInterval(3600)))
        // An explicit closing time after the first session accepts late registrations.
        #expect(TrainingRules.registrationOpen(now: t, opens: nil, closes: t.addingTimeInterval(86400), firstSessionStart: t.addingTimeInterval(-3600)))
        let start = t, end = t.addingTimeInterval(7200)
        #expect(TrainingRules.checkInOpen(now: t.addingTimeInterval(-29 * 60), start: start, end: end))
        #expect(!TrainingRules.checkInOpen(now: t.addingTimeInterval(-31 * 60), start: start, end: end))
        #expect(TrainingRules.checkInOpen(now: end, start: start, end: end))
        #expect(!TrainingRules.checkInOpen(now: end.addingTimeInterval(1), start: start, end: end))
    }

    @Test("evaluation averages per item leave unanswered items out")
    func means() {
        let means = TrainingRules.itemMeans([[5, 4, 0, 3], [3, 4, 5]], items: 4)
        #expect(means[0] == 4)
        #expect(means[1] == 4)
        #expect(means[2] == 5)
        #expect(means[3] == 3)
        #expect(TrainingRules.overallMean([[5, 4, 0, 3], [3, 4, 5]]) == 4)
        #expect(TrainingRules.overallMean([]) == nil)
    }

    @Test("certificate codes: 160 random bits in an alphabet without look-alikes, typed with dashes and in lower case")
    func codes() {
        let codes = Set((0..<200).map { _ in CertificateCode.make() })
        #expect(codes.count == 200)
        let code = codes.first!
        #expect(code.count == 33)
        #expect(CertificateCode.isWellFormed(code))
        #expect(!code.contains("O") && !code.contains("0") && !code.contains("I") && !code.contains("1"))
        let typed = CertificateRoutes.grouped(code).lowercased()
        #expect(typed.contains("-"))
        #expect(CertificateCode.normalise(typed) == code)
        #expect(!CertificateCode.isWellFormed("ABC"))
        #expect(!CertificateCode.isWellFormed(String(code.dropLast()) + "0"))
        #expect(CertificateCode.equal(code, code))
        #expect(!CertificateCode.equal(code, String(code.reversed())))
    }

    @Test("Open Badges: the recipient is the salted SHA-256 of the email, as the specification writes it")
    func hashedRecipient() {
        // python3: hashlib.sha256(b'sara@example.org' + b'deadbeef').hexdigest()
        #expect(OpenBadges.hashedIdentity(email: "Sara@Example.org", salt: "deadbeef")
                == "sha256$dd8c33de82f88fc2c40c27fe020e9a93e426a8f4fcd968b25d5e762532ba2bd4")
    }

    @Test("Markdown is rendered safely: raw HTML and javascript: links are dropped")
    func markdown() {
        let html = Markdown.html("# Title\n\n- one\n- **two**\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>")
        #expect(html.contains("<h1>Title</h1>"))
        #expect(html.contains("<li><strong>two</strong></li>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("onerror"))
        #expect(!html.contains("javascript:"))
    }

    @Test("QR codes: libqrencode's matrix with finder patterns, drawn as one SVG path")
    func qr() throws {
        let code = try #require(QRCode("https://interba.example/verify/ABCDEFGHJKMNPQRSTVWXYZ2345678923456"))
        #expect(code.size >= 25 && (code.size - 17) % 4 == 0)
        // The three finder patterns: dark 7×7 corners with a light ring inside.
        for (x, y) in [(0, 0), (code.size - 7, 0), (0, code.size - 7)] {
            #expect(code.isDark(x, y) && code.isDark(x + 6, y + 6) && !code.isDark(x + 1, y + 1) && code.isDark(x + 3, y + 3))
        }
        let svg = code.svg(label: "Verify <this>")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("aria-label=\"Verify &lt;this>\""))
    }

    @Test("iCalendar: escaping, folding at 75 octets without splitting a letter, VTIMEZONE with the EU rule")
    func icalendar() {
        #expect(ICalendar.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne")
        let long = "SUMMARY:" + String(repeating: "č", count: 60)
        let folded = ICalendar.fold(long)
        for line in folded.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 75) }
        #expect(folded.replacingOccurrences(of: "\r\n ", with: "") == long)
        let zone = ICalendar.timeZoneBlock("Europe/Tirane", year: 2026).joined(separator: "\n")
        #expect(zone.contains("TZOFFSETFROM:+0100\nTZOFFSETTO:+0200"))
        #expect(zone.contains("RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"))
        #expect(ICalendar.timeZoneBlock("UTC", year: 2026).joined(separator: "\n").contains("TZOFFSETTO:+0000"))
    }

    @Test("local times in the event's zone: 14:30 in Tirana in December is 13:30 UTC")
    func eventTime() throws {
        let zone = try #require(TimeZone(identifier: "Europe/Tirane"))
        let date = try #require(EventTime.parse("2026-12-10T14:30", in: zone))
        #expect(ISO8601DateFormatter().string(from: date) == "2026-12-10T13:30:00Z")
        #expect(EventTime.input(date, in: zone) == "2026-12-10T14:30")
        #expect(EventTime.parse("10.12.2026", in: zone) == nil)
    }
}
