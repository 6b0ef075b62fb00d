import Foundation

/// The methods of DESIGN.md 3.4 as pure functions: the completion rule, re-training, places and the waiting list.
enum TrainingRules {
    /// What the completion rule looks at for one participant.
    struct Record: Equatable, Sendable {
        /// Sessions that took place (cancelled sessions do not count).
        var sessions: Int
        /// Sessions marked present.
        var present: Int
        var evaluated: Bool
    }

    /// Share of sessions attended, 0…1 (0 when the event has no session that took place).
    static func attendanceShare(_ record: Record) -> Double {
        record.sessions == 0 ? 0 : Double(min(record.present, record.sessions)) / Double(record.sessions)
    }

    /// Complete when the attended share reaches the minimum (excused absences are absences: the certificate
    /// attests attendance) and, when the event asks for it, the evaluation was submitted.
    static func isComplete(_ record: Record, minAttendance: Double, requiresEvaluation: Bool) -> Bool {
        guard record.sessions > 0, record.present > 0 else { return false }
        // A small tolerance so that 3 of 4 sessions meets a 0.75 minimum exactly.
        guard attendanceShare(record) + 1e-9 >= minAttendance else { return false }
        return !requiresEvaluation || record.evaluated
    }

    /// Re-trained: a further completion in an area the person had already completed, or any completion of a
    /// refresher event. `earlierAreas` are the areas of the person's earlier completions.
    static func isRetrained(eventAreas: [String], isRefresher: Bool, earlierAreas: Set<String>) -> Bool {
        isRefresher || eventAreas.contains { earlierAreas.contains($0) }
    }

    /// Where a new registration goes.
    enum Placement: Equatable, Sendable { case registered, pending, waitlisted }

    static func placement(registered: Int, capacity: Int, requiresApproval: Bool) -> Placement {
        if requiresApproval { return .pending }
        return registered < capacity ? .registered : .waitlisted
    }

    /// How many people to promote from the waiting list after a change: the free places, at most the list's length.
    static func promotions(registered: Int, capacity: Int, waiting: Int) -> Int {
        max(0, min(capacity - registered, waiting))
    }

    /// Registration is open from `opens` (if set) until `closes`; without a closing time it closes when the first
    /// session starts (an organiser who sets a later closing time accepts late registrations for a multi-day event).
    static func registrationOpen(now: Date, opens: Date?, closes: Date?, firstSessionStart: Date?) -> Bool {
        if let opens, now < opens { return false }
        if let closes { return now <= closes }
        if let firstSessionStart, now >= firstSessionStart { return false }
        return true
    }

    /// Check-in by QR code is accepted from 30 minutes before a session until its end.
    static let checkInLead: TimeInterval = 30 * 60

    static func checkInOpen(now: Date, start: Date, end: Date) -> Bool {
        now >= start.addingTimeInterval(-checkInLead) && now <= end
    }

    /// Mean of each evaluation item over the submitted forms (items rated 1…5; 0 = not answered is left out).
    static func itemMeans(_ ratings: [[Int]], items: Int) -> [Double?] {
        (0..<items).map { index in
            let values = ratings.compactMap { $0.indices.contains(index) && (1...5).contains($0[index]) ? $0[index] : nil }
            return values.isEmpty ? nil : Double(values.reduce(0, +)) / Double(values.count)
        }
    }

    /// Overall mean over all answered items of all forms.
    static func overallMean(_ ratings: [[Int]]) -> Double? {
        let values = ratings.flatMap { $0 }.filter { (1...5).contains($0) }
        return values.isEmpty ? nil : Double(values.reduce(0, +)) / Double(values.count)
    }
}
