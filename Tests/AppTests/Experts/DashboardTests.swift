@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Coordinator dashboards")
struct DashboardFigureTests {
    let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade")!
        return calendar
    }()

    func day(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 9) -> Date {
        utc.date(from: DateComponents(year: y, month: m, day: d, hour: h))!
    }

    @Test("working days skip weekends and count like the sweep's cutoff")
    func workingDays() {
        // Monday 2 March 2026 09:00 → Monday 9 March 09:00: five working days.
        #expect(CoordinationDashboard.workingDays(from: day(2026, 3, 2), to: day(2026, 3, 9)) == 5)
        #expect(CoordinationDashboard.workingDays(from: day(2026, 3, 2), to: day(2026, 3, 2, 17)) == 0)
        // Friday → Monday: one working day (the Friday; Saturday and Sunday do not count); Thursday → Monday: two.
        #expect(CoordinationDashboard.workingDays(from: day(2026, 3, 6), to: day(2026, 3, 9)) == 1)
        #expect(CoordinationDashboard.workingDays(from: day(2026, 3, 5), to: day(2026, 3, 9)) == 2)
        #expect(CoordinationDashboard.workingDays(from: day(2026, 3, 9), to: day(2026, 3, 2)) == 0)
        // Agrees with the sweep: waited ≥ N exactly when levelSince < cutoff(N).
        let now = day(2026, 3, 20, 11)
        for offset in 0..<30 {
            let since = now.addingTimeInterval(-Double(offset) * 86400 - 3600)
            for n in [1, 5, 10] {
                #expect((CoordinationDashboard.workingDays(from: since, to: now) >= n) == (since < RequestService.cutoff(workingDays: n, before: now)),
                        "offset \(offset), n \(n)")
            }
        }
    }

    @Test("a worked example: queue by state and level, breaches, unmatched demand next to supply, and expert load")
    func workedExample() {
        let now = day(2026, 3, 20) // a Friday
        let ids = (0..<8).map { _ in UUID() }
        let experts = (0..<3).map { _ in UUID() }
        typealias R = CoordinationDashboard.RequestRow
        let requests: [R] = [
            // submitted 2 March: 14 working days waited, triage allows 5 → breach (9 over)
            R(id: ids[0], state: .submitted, level: 1, levelSince: day(2026, 3, 2), areas: ["A4"]),
            // submitted yesterday: within the time
            R(id: ids[1], state: .submitted, level: 1, levelSince: day(2026, 3, 19), areas: ["A4", "A1"]),
            // matching at national level since 2 March: 14 working days ≥ 10 → breach
            R(id: ids[2], state: .matching, level: 2, levelSince: day(2026, 3, 2), areas: ["A1"]),
            // at the open listing
            R(id: ids[3], state: .matching, level: 4, levelSince: day(2026, 3, 18), areas: ["A6"]),
            // offered, the offer expired on Wednesday and the sweep has not run
            R(id: ids[4], state: .offered, level: 1, levelSince: day(2026, 3, 16), areas: ["A4"]),
            R(id: ids[5], state: .accepted, level: 1, levelSince: day(2026, 3, 10), areas: ["A4"]),
            R(id: ids[6], state: .delivered, level: 3, levelSince: day(2026, 3, 1), areas: ["A6"]),
            R(id: ids[7], state: .draft, level: 1, levelSince: day(2026, 3, 1), areas: ["A9"]),
        ]
        let elsewhere = UUID()
        let offers: [CoordinationDashboard.OfferRow] = [
            .init(requestID: ids[4], expertID: experts[0], state: .open, expiresAt: day(2026, 3, 18)),
            .init(requestID: ids[5], expertID: experts[0], state: .accepted, expiresAt: day(2026, 3, 12)),
            .init(requestID: ids[6], expertID: experts[1], state: .accepted, expiresAt: day(2026, 3, 5)),
            .init(requestID: elsewhere, expertID: experts[1], state: .accepted, expiresAt: day(2026, 3, 5)),
            .init(requestID: ids[2], expertID: experts[2], state: .declined, expiresAt: day(2026, 3, 5)),
        ]
        let expertRows: [CoordinationDashboard.ExpertRow] = [
            .init(id: experts[0], status: .active, level: .institutional, capacity: 1, ratingSum: 9, ratingCount: 2, competencies: ["A4": 4, "A1": 1]),
            .init(id: experts[1], status: .active, level: .regional, capacity: 3, ratingSum: 0, ratingCount: 0, competencies: ["A6": 3, "A4": 2]),
            .init(id: experts[2], status: .paused, level: .national, capacity: 2, ratingSum: 0, ratingCount: 0, competencies: ["A1": 4]),
        ]
        var settings = CoordinationSettings()
        settings.triageWorkingDays = 5
        settings.matchingWorkingDays = 10
        let report = CoordinationDashboard.build(requests: requests, elsewhere: [elsewhere: .planned], offers: offers, experts: expertRows,
                                                 lapses: [], settings: settings, now: now)

        func queue(_ state: RfKState) -> [Int] { report.queue.first { $0.state == state }!.byLevel }
        #expect(queue(.submitted) == [2, 0, 0, 0])
        #expect(queue(.matching) == [0, 1, 0, 1])
        #expect(queue(.offered) == [1, 0, 0, 0])
        #expect(queue(.delivered) == [0, 0, 1, 0])
        #expect(report.queue.reduce(0) { $0 + $1.total } == 7, "the draft is not counted")
        #expect(!report.queue.contains { $0.state == .draft })

        // Breaches, most overdue first: triage 14 of 5 (9 over), matching 14 of 10 (4 over), the expired offer (2 working days).
        #expect(report.breaches.map(\.kind) == [.triage, .matching, .offer])
        #expect(report.breaches.map(\.requestID) == [ids[0], ids[2], ids[4]])
        #expect(report.breaches.map(\.waited) == [14, 14, 2])
        #expect(report.breaches.map(\.allowed) == [5, 10, 0])

        // Unmatched demand (submitted, matching, offered): A4 in 3 requests, A1 in 2 (one escalated), A6 in 1 at the open listing.
        #expect(report.demand.map(\.area) == ["A4", "A1", "A6"])
        let a4 = report.demand[0], a1 = report.demand[1], a6 = report.demand[2]
        #expect((a4.requests, a4.escalated, a4.openListing, a4.experts) == (3, 0, 0, 2))
        // A1: the only expert at proficiency ≥ 2 is paused, the active one has proficiency 1 → no supply.
        #expect((a1.requests, a1.escalated, a1.openListing, a1.experts) == (2, 1, 0, 0))
        #expect((a6.requests, a6.escalated, a6.openListing, a6.experts) == (1, 1, 1, 1))

        // Load: expert 0 has one accepted request of capacity 1 (full) and an offer that has expired (not open any more).
        let load = Dictionary(uniqueKeysWithValues: report.experts.map { ($0.expertID, $0) })
        #expect(load[experts[0]]!.active == 1)
        #expect(load[experts[0]]!.atCapacity)
        #expect(load[experts[0]]!.openOffers == 0)
        #expect(load[experts[0]]!.meanRating == 4.5)
        // Expert 1: one delivered here and one planned request from elsewhere, which counts for the load.
        #expect(load[experts[1]]!.active == 1)
        #expect(load[experts[1]]!.delivered == 1)
        #expect(load[experts[1]]!.meanRating == nil)
        #expect(load[experts[2]]!.active == 0)
        #expect(report.experts.first?.expertID == experts[0], "the busiest first")
    }

    @Test("scopes: the values round-trip and bad ones are refused")
    func scopes() {
        let id = UUID()
        for scope in [DashboardScope.region, .country("AL"), .institution(id)] {
            #expect(DashboardScope(value: scope.value) == scope)
        }
        #expect(DashboardScope(value: "country:ALB") == nil)
        #expect(DashboardScope(value: "institution:nope") == nil)
        #expect(DashboardScope(value: "planet:earth") == nil)
        #expect(DashboardScope(value: "") == nil)
    }
}

@Suite("Coordinator dashboard pages", .serialized)
struct DashboardPageTests {
    @Test("each coordinator sees the dashboard of their level; others cannot; the CSV files hold the same figures")
    func pages() async throws {
        try await withCoordination { f in
            try await f.expert("expert.tirana", level: .institutional, areas: ["A4": 4], capacity: 1)
            // Submitted on the fixture's Monday in March and never triaged: late by now.
            let late = try await f.submittedRequest()
            let coordinator = WebClient(f.app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let page = try await coordinator.get("/coordination")
            #expect(page.status == .ok)
            let html = page.body.string
            #expect(html.contains("id=\"queue-by-state\""))
            #expect(html.contains("<tr data-state=\"submitted\"><th scope=\"row\"><span class=\"state state-submitted\">\(f.app.catalog.text("rfk.state.submitted", .en))</span></th><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\"><strong>1</strong></td></tr>"))
            #expect(html.contains("id=\"sla-breaches\""))
            #expect(html.contains("/requests/\(late.id!.uuidString)"))
            #expect(html.contains("<tr data-area=\"A4\">"))
            #expect(html.contains("id=\"expert-load\""))
            #expect(html.contains("Eda Eksperte"))
            #expect(html.contains("<svg"))
            let csv = try await coordinator.get("/coordination/demand.csv")
            #expect(csv.headers.contentType?.subType == "csv")
            #expect(csv.headers.first(name: .contentDisposition)?.contains("unmatched-demand-institution-") == true)
            let lines = csv.body.string.replacingOccurrences(of: "\u{FEFF}", with: "").split(separator: "\r\n").map(String.init)
            #expect(lines.first == "area,area_name,open_requests,escalated,open_listing,experts")
            #expect(lines.contains { $0.hasPrefix("A4,") && $0.hasSuffix(",1,0,0,1") })
            // The unmatched demand feeds the next campaign: the new-campaign form shows it.
            let newCampaign = try await coordinator.get("/campaigns/new")
            #expect(newCampaign.body.string.contains("id=\"unmatched-demand-hint\""))
            let a4 = try #require(try await Area.query(on: f.app.db).filter(\.$code == "A4").first())
            let row = f.app.catalog.text("campaigns.demand_row", .en, ["A4", localized(a4.names, .en), "1", "1"])
            #expect(newCampaign.body.string.contains(row.html), "expected \(row)")
            let load = try await coordinator.get("/coordination/experts.csv?bom=0")
            #expect(load.body.string.hasPrefix("name,institution,status,level,capacity,active,open_offers,delivered,mean_rating,ratings\r\nEda Eksperte,"))

            // The national coordinator of Albania sees the country (Tirana's request included), not Bosnia's.
            let national = WebClient(f.app)
            try await national.signIn(demo("national.al"))
            let country = try await national.get("/coordination")
            #expect(country.status == .ok)
            #expect(country.body.string.contains("value=\"country:AL\" selected"))
            #expect(country.body.string.contains("/requests/\(late.id!.uuidString)"))
            #expect(try await national.get("/coordination?scope=country:BA").status == .notFound)
            #expect(try await national.get("/coordination?scope=region").status == .notFound)
            #expect(try await national.get("/coordination?scope=bogus").status == .notFound)
            let bosnia = WebClient(f.app)
            try await bosnia.signIn(demo("national.ba"))
            #expect(!(try await bosnia.get("/coordination").body.string.contains("/requests/\(late.id!.uuidString)")))
            // The regional coordinator starts with the whole region.
            let regional = WebClient(f.app)
            try await regional.signIn(demo("regional"))
            #expect(try await regional.get("/coordination").body.string.contains("value=\"region\" selected"))
            // Staff members have no dashboard.
            let staff = WebClient(f.app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/coordination").status == .forbidden)
            #expect(try await staff.get("/coordination/demand.csv").status == .forbidden)
        }
    }
}

@Suite("Open listing", .serialized)
struct OpenListingTests {
    @Test("at the open listing a member answers; the request stays anonymous to them until its owner replies")
    func answerAndReply() async throws {
        try await withCoordination { f in
            let request = try await f.submittedRequest()
            let path = "/requests/\(request.id!.uuidString)"
            let member = WebClient(f.app)
            try await member.signIn(demo("staff.prishtina"))
            // Not listed yet: the request is not even readable.
            #expect(try await member.get(path).status == .notFound)
            // Nobody acts: the ladder takes it to the open listing.
            for days in [9.0, 15, 15] {
                f.clock.advance(days * 86400)
                try await f.service.sweep()
            }
            #expect(try await f.reload(request).level == 4)
            let listed = try await member.get(path)
            #expect(listed.status == .ok)
            #expect(listed.body.string.contains(f.app.catalog.text("rfk.anonymous", .en).html))
            #expect(!listed.body.string.contains("Sara Stafi"))
            #expect(listed.body.string.contains("id=\"listing-respond\""))
            // An empty answer is refused with a message; nothing is stored.
            let empty = try await member.post("\(path)/listing", [("listing_message", "   ")])
            #expect(empty.status == .unprocessableEntity)
            #expect(empty.body.string.contains(f.app.catalog.text("rfk.error.listing-message", .en).html))
            #expect(try await ListingResponse.query(on: f.app.db).count() == 0)
            #expect(try await member.post("\(path)/listing", [("listing_message", "I ran COIL modules with Bari & Graz.")]).status == .seeOther)
            // A second answer from the same person is refused.
            _ = try await member.post("\(path)/listing", [("listing_message", "Again")])
            #expect(try await ListingResponse.query(on: f.app.db).count() == 1)
            // The owner hears of it and sees who answered; the requester cannot answer their own request.
            #expect(f.mailer.sent.contains { $0.to == demo("staff.tirana") && $0.subject.contains(request.title) })
            let owner = WebClient(f.app)
            try await owner.signIn(demo("staff.tirana"))
            let ownerPage = try await owner.get(path)
            #expect(ownerPage.body.string.contains("I ran COIL modules with Bari &amp; Graz."))
            #expect(!ownerPage.body.string.contains("id=\"listing-respond\""))
            _ = try await owner.post("\(path)/listing", [("listing_message", "Me")])
            #expect(try await ListingResponse.query(on: f.app.db).count() == 1)
            // Still anonymous before the reply.
            let waiting = try await member.get(path)
            #expect(waiting.body.string.contains("id=\"awaiting-reply\""))
            #expect(!waiting.body.string.contains("Sara Stafi"))
            let answer = try #require(try await ListingResponse.query(on: f.app.db).first())
            let blank = try await owner.post("\(path)/listing/\(answer.id!.uuidString)/reply", [("reply", "")])
            #expect(blank.status == .unprocessableEntity)
            #expect(blank.body.string.contains(f.app.catalog.text("rfk.error.listing-reply", .en).html))
            // Someone else cannot reply for the owner.
            #expect(try await member.post("\(path)/listing/\(answer.id!.uuidString)/reply", [("reply", "Hijack")]).status == .forbidden)
            #expect(try await owner.post("\(path)/listing/\(answer.id!.uuidString)/reply", [("reply", "Yes please, in May?")]).status == .seeOther)
            let revealed = try await member.get(path)
            #expect(revealed.body.string.contains("Sara Stafi"))
            #expect(revealed.body.string.contains("Yes please, in May?"))
            // Contact details still wait for an accepted offer.
            #expect(!revealed.body.string.contains(demo("staff.tirana")))
            #expect(f.mailer.sent.contains { $0.to == demo("staff.prishtina") })
        }
    }
}

@Suite("Expert photo", .serialized)
struct ExpertPhotoTests {
    @Test("an expert adds a photo (type read from the bytes, size limited), the directory shows it, and it can be removed")
    func photo() async throws {
        try await withCoordination { f in
            let profile = try await f.expert("expert.tirana", level: .institutional, areas: ["A4": 4])
            let expert = WebClient(f.app)
            try await expert.signIn(demo("expert.tirana"))
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52] + Array(repeating: 0, count: 64))
            // A text file named .png is refused, and so is an empty upload and a picture over 2 MB.
            _ = try await expert.upload("/experts/me/photo", filename: "me.png", data: Data("not a picture".utf8), contentType: "image/png", field: "photo")
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.photoSHA256 == nil)
            let refused = try await expert.get("/experts/me")
            #expect(refused.body.string.contains(f.app.catalog.text("experts.error.photo-type", .en).html))
            _ = try await expert.upload("/experts/me/photo", filename: "me.png", data: Data(), field: "photo")
            #expect(try await expert.get("/experts/me").body.string.contains(f.app.catalog.text("experts.error.photo-empty", .en).html))
            _ = try await expert.upload("/experts/me/photo", filename: "big.png", data: png + Data(count: ExpertPhoto.maxBytes), field: "photo")
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.photoSHA256 == nil)

            #expect(try await expert.upload("/experts/me/photo", filename: "me.png", data: png, field: "photo").status == .seeOther)
            let stored = try #require(try await ExpertProfile.find(profile.id, on: f.app.db))
            #expect(stored.photoType == "image/png")
            #expect(stored.photoSHA256 == LocalFileStorage.sha256(png))
            let photoPath = "/experts/\(profile.id!.uuidString)/photo"
            // Public profile: anyone sees the photo in the directory and can load it.
            let directory = try await WebClient(f.app).get("/experts")
            #expect(directory.body.string.contains("src=\"\(photoPath)\" alt=\"Eda Eksperte\""))
            let image = try await WebClient(f.app).get(photoPath)
            #expect(image.status == .ok)
            #expect(image.headers.contentType?.description == "image/png")
            #expect(Data(buffer: image.body) == png)
            // A profile that is not public shows its photo only to signed-in members.
            stored.isPublic = false
            try await stored.save(on: f.app.db)
            #expect(try await WebClient(f.app).get(photoPath).status == .notFound)
            #expect(try await expert.get(photoPath).status == .ok)
            #expect(try await expert.post("/experts/me/photo/remove", []).status == .seeOther)
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.photoSHA256 == nil)
            #expect(try await expert.get(photoPath).status == .notFound)
        }
    }
}
