import Fluent
import Vapor

/// iCalendar (RFC 5545) feeds of training sessions: per event, per person (a private token URL) and per institution.
/// Times are local to the event's time zone with its VTIMEZONE; a session's UID never changes, its SEQUENCE rises
/// with every change of the event or the session, and cancelled sessions (or events) are STATUS:CANCELLED.
enum ICalendar {
    struct Entry: Sendable {
        var uid: String
        var sequence: Int
        var start: Date
        var end: Date
        var timeZone: String
        var summary: String
        var description: String
        var location: String
        var url: String
        var cancelled: Bool
        var lastModified: Date
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\r\n", with: "\\n")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Lines longer than 75 octets are folded (CRLF + space), never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        var result = ""
        var count = 0
        for scalar in line.unicodeScalars {
            let size = String(scalar).utf8.count
            if count + size > 75 {
                result += "\r\n "
                count = 1
            }
            result.unicodeScalars.append(scalar)
            count += size
        }
        return result
    }

    static func stamp(_ date: Date, zone: TimeZone?) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone ?? TimeZone(identifier: "UTC")
        formatter.dateFormat = zone == nil ? "yyyyMMdd'T'HHmmss'Z'" : "yyyyMMdd'T'HHmmss"
        return formatter.string(from: date)
    }

    /// A VTIMEZONE for the zone: its standard and daylight offsets with the EU rule (last Sunday of March/October)
    /// when the zone observes daylight saving time, otherwise one STANDARD block.
    static func timeZoneBlock(_ identifier: String, year: Int) -> [String] {
        guard let zone = TimeZone(identifier: identifier) else { return [] }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let january = calendar.date(from: DateComponents(year: year, month: 1, day: 15))!
        let july = calendar.date(from: DateComponents(year: year, month: 7, day: 15))!
        let winter = zone.secondsFromGMT(for: january), summer = zone.secondsFromGMT(for: july)
        func offset(_ seconds: Int) -> String {
            let sign = seconds < 0 ? "-" : "+"
            let value = abs(seconds)
            return String(format: "%@%02d%02d", sign, value / 3600, (value % 3600) / 60)
        }
        var lines = ["BEGIN:VTIMEZONE", "TZID:\(identifier)"]
        if winter == summer {
            lines += ["BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:\(offset(winter))", "TZOFFSETTO:\(offset(winter))",
                      "TZNAME:\(zone.abbreviation(for: january) ?? identifier)", "END:STANDARD"]
        } else {
            lines += ["BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                      "TZOFFSETFROM:\(offset(winter))", "TZOFFSETTO:\(offset(summer))", "TZNAME:\(zone.abbreviation(for: july) ?? "DST")", "END:DAYLIGHT",
                      "BEGIN:STANDARD", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
                      "TZOFFSETFROM:\(offset(summer))", "TZOFFSETTO:\(offset(winter))", "TZNAME:\(zone.abbreviation(for: january) ?? "STD")", "END:STANDARD"]
        }
        lines.append("END:VTIMEZONE")
        return lines
    }

    static func document(name: String, entries: [Entry], now: Date) -> String {
        var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Interba//Training calendar//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                     "X-WR-CALNAME:\(escape(name))"]
        let year = Calendar(identifier: .gregorian).component(.year, from: now)
        for zone in Set(entries.map(\.timeZone)).sorted() { lines += timeZoneBlock(zone, year: year) }
        for entry in entries {
            let zone = TimeZone(identifier: entry.timeZone)
            lines += ["BEGIN:VEVENT", "UID:\(entry.uid)", "DTSTAMP:\(stamp(now, zone: nil))", "LAST-MODIFIED:\(stamp(entry.lastModified, zone: nil))",
                      "SEQUENCE:\(entry.sequence)",
                      zone == nil ? "DTSTART:\(stamp(entry.start, zone: nil))" : "DTSTART;TZID=\(entry.timeZone):\(stamp(entry.start, zone: zone))",
                      zone == nil ? "DTEND:\(stamp(entry.end, zone: nil))" : "DTEND;TZID=\(entry.timeZone):\(stamp(entry.end, zone: zone))",
                      "SUMMARY:\(escape(entry.summary))", "STATUS:\(entry.cancelled ? "CANCELLED" : "CONFIRMED")"]
            if !entry.description.isEmpty { lines.append("DESCRIPTION:\(escape(entry.description))") }
            if !entry.location.isEmpty { lines.append("LOCATION:\(escape(entry.location))") }
            if !entry.url.isEmpty { lines.append("URL:\(entry.url)") }
            lines.append("END:VEVENT")
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }
}

/// A person's private calendar address (the token in the URL is the only key).
final class CalendarFeed: Model, @unchecked Sendable {
    static let schema = "calendar_feeds"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "token") var token: String

    init() {}
}

struct TrainingCalendarRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("events", ":id", "calendar.ics", use: eventFeed)
        routes.get("calendars", "institutions", ":institutionID", use: institutionFeed)
        routes.get("calendars", "people", ":token", use: personFeed)
        routes.grouped(User.redirectMiddleware(path: "/signin")).post("my", "calendar", use: makePersonalFeed)
    }

    static func entries(_ events: [TrainingEvent], on db: any Database, baseURL: String) async throws -> [ICalendar.Entry] {
        var entries: [ICalendar.Entry] = []
        for event in events {
            let sessions = try await EventSession.query(on: db).filter(\.$event.$id == event.requireID()).sort(\.$startsAt).all()
            for (index, session) in sessions.enumerated() {
                let place = [session.venue, session.onlineURL].filter { !$0.isEmpty }.joined(separator: " · ")
                entries.append(.init(
                    uid: "session-\(session.id!.uuidString.lowercased())@interba", sequence: event.sequence + session.sequence,
                    start: session.startsAt, end: session.endsAt, timeZone: event.timeZone,
                    summary: sessions.count > 1 ? "\(event.title) (\(index + 1)/\(sessions.count))" : event.title,
                    description: "\(baseURL)/events/\(event.id!.uuidString)", location: place, url: "\(baseURL)/events/\(event.id!.uuidString)",
                    cancelled: session.cancelled || event.status == .cancelled, lastModified: event.updatedAt ?? Date()))
            }
        }
        return entries
    }

    static func response(_ text: String, filename: String) -> Response {
        let response = Response(status: .ok, body: .init(string: text))
        response.headers.replaceOrAdd(name: .contentType, value: "text/calendar; charset=utf-8")
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"\(filename)\"")
        return response
    }

    func eventFeed(req: Request) async throws -> Response {
        guard let id = req.parameters.get("id", as: UUID.self), let event = try await TrainingEvent.find(id, on: req.db) else { throw Abort(.notFound) }
        let entries = try await Self.entries([event], on: req.db, baseURL: req.application.config.baseURL)
        return Self.response(ICalendar.document(name: event.title, entries: entries, now: Date()), filename: "event.ics")
    }

    func institutionFeed(req: Request) async throws -> Response {
        guard let id = req.parameters.get("institutionID", as: UUID.self), let institution = try await Institution.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        let events = try await TrainingEvent.query(on: req.db).filter(\.$institution.$id == id).all()
        let entries = try await Self.entries(events, on: req.db, baseURL: req.application.config.baseURL)
        return Self.response(ICalendar.document(name: "Interba · \(institution.shortName)", entries: entries, now: Date()), filename: "institution.ics")
    }

    /// The events a person registered for (place or waiting list) or trains at.
    func personFeed(req: Request) async throws -> Response {
        let token = req.parameters.get("token") ?? ""
        guard token.count >= 20, let feed = try await CalendarFeed.query(on: req.db).filter(\.$token == token).first(),
              CertificateCode.equal(feed.token, token) else { throw Abort(.notFound) }
        let registered = try await EventRegistration.query(on: req.db).filter(\.$user.$id == feed.userID)
            .filter(\.$status ~~ [.registered, .waitlisted, .pending]).all().map(\.$event.id)
        let training = try await EventTrainer.query(on: req.db).filter(\.$user.$id == feed.userID).all().map(\.$event.id)
        let ids = Array(Set(registered + training))
        let events = ids.isEmpty ? [] : try await TrainingEvent.query(on: req.db).filter(\.$id ~~ ids).all()
        let entries = try await Self.entries(events, on: req.db, baseURL: req.application.config.baseURL)
        return Self.response(ICalendar.document(name: "Interba", entries: entries, now: Date()), filename: "trainings.ics")
    }

    /// Creates (or replaces, which revokes the old address) the person's private feed address.
    func makePersonalFeed(req: Request) async throws -> Response {
        let user = try req.auth.require(User.self)
        let userID = try user.requireID()
        let feed = try await CalendarFeed.query(on: req.db).filter(\.$userID == userID).first() ?? CalendarFeed()
        feed.userID = userID
        feed.token = CertificateCode.make(bytes: 20)
        try await feed.save(on: req.db)
        req.flash("success", "training.calendar_made")
        return req.seeOther("/my/trainings")
    }
}
