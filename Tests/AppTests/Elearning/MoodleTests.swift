@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

let recordedCalls = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/moodle-rest-calls.json")

/// Compares a fake reply with a recorded one: the same keys everywhere and the same values, except values that depend on
/// the clock or on the whole site (compared by type only).
func sameReply(_ fake: Any, _ recorded: Any, path: String = "", problems: inout [String]) {
    let volatile: Set<String> = ["timecreated", "timemodified", "cacherev", "startdate", "enddate", "sitename", "advancedfeatures",
                                 "userprivateaccesskey", "functions"]
    switch (fake, recorded) {
    case let (a as [String: Any], b as [String: Any]):
        if Set(a.keys) != Set(b.keys) { problems.append("\(path): keys \(Set(a.keys).symmetricDifference(b.keys).sorted())") }
        for (key, value) in b {
            guard let mine = a[key] else { continue }
            if volatile.contains(key) {
                if type(of: mine) != type(of: value) && !(mine is NSNumber && value is NSNumber) && !(mine is [Any] && value is [Any]) {
                    problems.append("\(path).\(key): \(type(of: mine)) vs \(type(of: value))")
                }
            } else {
                sameReply(mine, value, path: "\(path).\(key)", problems: &problems)
            }
        }
    case let (a as [Any], b as [Any]):
        if a.count != b.count { problems.append("\(path): \(a.count) items vs \(b.count)"); return }
        for (index, pair) in zip(a, b).enumerated() { sameReply(pair.0, pair.1, path: "\(path)[\(index)]", problems: &problems) }
    default:
        let x = (fake as? NSObject), y = (recorded as? NSObject)
        if x != y { problems.append("\(path): \(fake) vs \(recorded)") }
    }
}

@Suite("Moodle: the fake against the recorded site, the client, the sync", .serialized)
struct MoodleTests {
    @Test("contract: every recorded request/response pair of Moodle 4.5.6 replayed against the fake gives the same reply")
    func contract() async throws {
        let recording = try JSONSerialization.jsonObject(with: Data(contentsOf: recordedCalls)) as! [String: Any]
        let calls = recording["calls"] as! [[String: Any]]
        #expect(calls.count == 19)
        let fake = FakeMoodle(siteURL: "http://127.0.0.1:8081", token: "good")
        fake.next = ["course": 12, "user": 7, "section": 69, "module": 183, "forum": 8, "context": 224]
        for call in calls {
            let function = call["wsfunction"] as! String
            let note = call["note"] as? String ?? ""
            let form = (call["form"] as! [[String]]).map { ($0[0], $0[1]) }
            let token = note.contains("bad token") ? "wrong" : "good"
            let (status, body) = try await fake.post("http://127.0.0.1:8081/webservice/rest/server.php",
                                                     body: MoodleForm.encode([("wstoken", token), ("wsfunction", function), ("moodlewsrestformat", "json")] + form))
            #expect(status == call["http_status"] as? Int, "\(function) (\(note))")
            let reply = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
            var problems: [String] = []
            sameReply(reply, call["response"]!, path: function, problems: &problems)
            #expect(problems.isEmpty, "\(function) (\(note)): \(problems.prefix(5))")
        }
    }

    @Test("the client: parameters in PHP array notation, Moodle's errors as failures, transient failures retried with backoff")
    func client() async throws {
        #expect(MoodleForm.list("courses", [[("fullname", "IaH Bazat"), ("shortname", "IAH-1")]]).map { "\($0.0)=\($0.1)" }
                == ["courses[0][fullname]=IaH Bazat", "courses[0][shortname]=IAH-1"])
        #expect(MoodleForm.encode([("users[0][email]", "a+b@example.org")]) == "users%5B0%5D%5Bemail%5D=a%2Bb%40example.org")
        let fake = FakeMoodle(token: "good")
        var waits: [Duration] = []
        let recorder = WaitRecorder()
        var client = MoodleClient(siteURL: "http://moodle.example/", token: "good", transport: fake)
        client.pause = { await recorder.add($0) }
        fake.failNext = 2
        #expect(try await client.siteInfo().functions.count == FakeMoodle.allFunctions.count)
        waits = await recorder.waits
        #expect(waits == [.milliseconds(500), .milliseconds(1000)])
        fake.failNext = 3
        await #expect(throws: MoodleFailure.unreachable("HTTP 503")) { _ = try await client.siteInfo() }
        let wrong = MoodleClient(siteURL: "http://moodle.example", token: "bad", transport: fake)
        do {
            _ = try await wrong.siteInfo()
            Issue.record("a wrong token was accepted")
        } catch let failure as MoodleFailure {
            #expect(failure.catalogKey == "moodle.error.invalidtoken")
        }
        #expect(client.endpoint == "http://moodle.example/webservice/rest/server.php")
    }

    actor WaitRecorder {
        var waits: [Duration] = []
        func add(_ duration: Duration) { waits.append(duration) }
    }

    /// A connection to the fake for Tirana, a course from a module and an event with three participants and a trainer.
    func setUp(_ app: Application, fake: FakeMoodle) async throws -> (Course, TrainingEvent, MoodleSync) {
        app.moodleTransport = fake
        var sync = MoodleSync(db: app.db, transport: fake, secret: app.config.secret)
        sync.pause = { _ in }
        let coordinator = try await app.actor(demo("coordinator.tirana"))
        let tirana = try await app.institution("tirana")
        let connection = try await sync.save(institutionID: tirana.id, siteURL: "https://moodle.uni-tirana.example/", token: fake.token, categoryID: "3", by: coordinator)
        #expect(connection.tokenCipher != fake.token && !connection.tokenCipher.contains(fake.token))
        #expect(try TokenBox.open(connection.tokenCipher, secret: app.config.secret) == fake.token)
        #expect(connection.siteURL == "https://moodle.uni-tirana.example")
        let module = try #require(try await TrainingModule.query(on: app.db).filter(\.$slug == "preparing-a-short-training").first())
        let course = try await CourseService(db: app.db, storage: app.fileStorage, baseURL: "").create(
            from: module, title: "Short trainings", language: "en", institutionID: tirana.id!, by: coordinator, sectionTitles: [:], materialsTitle: "Materials")
        let service = app.trainingService()
        let event = try await service.createEvent(try await pilotInput(app, capacity: 5, trainers: demo("trainer.tirana")), by: coordinator)
        for email in ["staff.tirana", "staff.prishtina", "staff.skopje"] { try await service.register(event, user: try await app.user(demo(email)), waitlist: false) }
        return (course, event, sync)
    }

    @Test("publishing: course created, users found by email (a different name is reported) or created, enrolled as students and teacher; twice changes nothing")
    func publish() async throws {
        try await withInterba { app in
            let fake = FakeMoodle(token: "tirana-token-1234")
            // Sara already has a Moodle account, under another spelling of her name.
            let sara = try await app.user(demo("staff.tirana"))
            _ = try await fake.post("", body: MoodleForm.encode([("wstoken", fake.token), ("wsfunction", "core_user_create_users")]
                + MoodleForm.list("users", [[("username", "sara"), ("email", sara.email.uppercased()), ("firstname", "Sarah"), ("lastname", "Stafi"), ("createpassword", "1")]])))
            let (course, event, sync) = try await setUp(app, fake: fake)
            let report = try await sync.publish(course, events: [event], html: "<p>Intro</p>", sections: 6)
            #expect(report.courseCreated)
            #expect(report.usersFound == 1 && report.usersCreated == 3 && report.enrolled == 4)
            #expect(report.nameMismatches.count == 1 && report.nameMismatches[0].contains("Sarah"))
            #expect(fake.courses.count == 1)
            let moodleCourse = try #require(fake.courses.values.first)
            #expect(moodleCourse.shortname == course.shortname && moodleCourse.categoryID == 3 && moodleCourse.enableCompletion == 1)
            #expect(fake.enrolments.filter { $0.roleID == MoodleClient.studentRole }.count == 3)
            #expect(fake.enrolments.filter { $0.roleID == MoodleClient.teacherRole }.count == 1)
            // All four enrolments went in one call.
            #expect(fake.calls.filter { $0.0 == "enrol_manual_enrol_users" }.count == 1)
            let callsBefore = fake.calls.count
            let again = try await sync.publish(course, events: [event], html: "<p>Intro</p>", sections: 6)
            #expect(again.courseUpdated && !again.courseCreated)
            #expect(again.usersCreated == 0 && again.usersFound == 0 && again.enrolled == 0)
            #expect(fake.calls.dropFirst(callsBefore).map(\.0) == ["core_course_update_courses"])
            #expect(fake.courses.count == 1 && fake.users.count == 4)
            #expect(try await MoodleLinks.courseURL(course, on: app.db) == "https://moodle.uni-tirana.example/course/view.php?id=\(moodleCourse.id)")
        }
    }

    @Test("bad input: a taken short name, a wrong token and an unreachable site leave nothing half-made; a taken username gets a number")
    func badInput() async throws {
        try await withInterba { app in
            let fake = FakeMoodle(token: "tirana-token-1234")
            let (course, event, sync) = try await setUp(app, fake: fake)
            _ = try await fake.post("", body: MoodleForm.encode([("wstoken", fake.token), ("wsfunction", "core_course_create_courses")]
                + MoodleForm.list("courses", [[("fullname", "Someone else's"), ("shortname", course.shortname), ("categoryid", "1")]])))
            do {
                _ = try await sync.publish(course, events: [event], html: "", sections: 2)
                Issue.record("a taken short name was accepted")
            } catch let failure as MoodleFailure {
                #expect(failure.catalogKey == "moodle.error.shortnametaken")
            }
            #expect(try await MoodleLink.query(on: app.db).count() == 0)
            #expect(fake.users.isEmpty)
            // Free the name: the next run goes through. A username taken by someone with another email gets a number.
            fake.courses = [:]
            let staff = try await app.user(demo("staff.prishtina"))
            _ = try await fake.post("", body: MoodleForm.encode([("wstoken", fake.token), ("wsfunction", "core_user_create_users")]
                + MoodleForm.list("users", [[("username", MoodleSync.username(staff.email)), ("email", "other@example.org"), ("firstname", "O"), ("lastname", "P"), ("createpassword", "1")]])))
            let report = try await sync.publish(course, events: [event], html: "", sections: 2)
            #expect(report.usersCreated == 4)
            #expect(fake.users.values.contains { $0.email == staff.email && $0.username == MoodleSync.username(staff.email) + "2" })
            // A wrong token: Moodle's error, explained.
            fake.token = "changed"
            await #expect(throws: MoodleFailure.moodle(MoodleError(exception: "core\\exception\\moodle_exception", errorcode: "invalidtoken",
                                                                   message: "Invalid token - token not found"))) {
                _ = try await sync.publish(course, events: [event], html: "", sections: 2)
            }
            // Unreachable: every attempt fails.
            fake.token = "tirana-token-1234"
            fake.failNext = 10
            await #expect(throws: MoodleFailure.unreachable("HTTP 503")) { _ = try await sync.publish(course, events: [event], html: "", sections: 2) }
        }
    }

    @Test("completions read back from Moodle complete the training and issue the certificate; a course without criteria is reported")
    func completions() async throws {
        try await withInterba { app in
            let fake = FakeMoodle(token: "tirana-token-1234")
            let (course, event, sync) = try await setUp(app, fake: fake)
            _ = try await sync.publish(course, events: [event], html: "", sections: 2)
            let training = app.trainingService()
            let first = try await sync.poll(training: training)
            #expect(first.noCriteria == [course.title] && first.completed == 0)
            let moodleCourse = try #require(fake.courses.keys.first)
            let sara = try await app.user(demo("staff.tirana"))
            let saraLink = try #require(try await MoodleLink.query(on: app.db).filter(\.$kind == "user").filter(\.$localID == sara.id!).first())
            fake.complete(userID: saraLink.moodleID, courseID: moodleCourse)
            let second = try await sync.poll(training: training)
            #expect(second.completed == 1 && second.checked == 3)
            let completion = try #require(try await TrainingCompletion.query(on: app.db).filter(\.$user.$id == sara.id!).first())
            #expect(completion.source == "moodle")
            #expect(try await Certificate.query(on: app.db).filter(\.$completion.$id == completion.id!).count() == 1)
            // Already complete: not asked again.
            let third = try await sync.poll(training: training)
            #expect(third.checked == 2 && third.completed == 0)
        }
    }

    @Test("pages: connections with a hidden token and a test that names missing functions; publishing from the builder; the learner's Moodle link")
    func pages() async throws {
        try await withInterba { app in
            let fake = FakeMoodle(token: "tirana-token-1234", functions: FakeMoodle.allFunctions.filter { $0 != "enrol_manual_enrol_users" })
            app.moodleTransport = fake
            let web = WebClient(app)
            try await web.signIn(demo("coordinator.tirana"))
            #expect(try await web.get("/moodle").status == .ok)
            let tirana = try await app.institution("tirana")
            let bad = try await web.post("/moodle/connections", [("scope", tirana.id!.uuidString), ("site_url", "moodle.example"), ("token", "tirana-token-1234"), ("category_id", "1")])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("value=\"moodle.example\""))
            #expect(!bad.body.string.contains("tirana-token-1234"))
            #expect(try await web.post("/moodle/connections", [("scope", tirana.id!.uuidString), ("site_url", "https://moodle.example"), ("token", "tirana-token-1234"), ("category_id", "1")]).status == .seeOther)
            let connection = try #require(try await MoodleConnection.query(on: app.db).first())
            let listed = try await web.get("/moodle").body.string
            #expect(listed.contains("…1234") && !listed.contains("tirana-token-1234"))
            _ = try await web.post("/moodle/connections/\(connection.id!.uuidString)/test", [])
            let tested = try await web.get("/moodle").body.string
            #expect(try await MoodleConnection.find(connection.id, on: app.db)?.missingFunctions == ["enrol_manual_enrol_users"])
            #expect(tested.contains("<br><strong class=\"field-error\">"))
            #expect(tested.contains("Interba fake Moodle"))
            // Staff see nothing of it; the platform-wide connection is for admins.
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/moodle").status == .forbidden)
            #expect(try await web.post("/moodle/connections", [("scope", ""), ("site_url", "https://moodle.example"), ("token", "abcdefghij"), ("category_id", "1")]).status == .forbidden)
            // Publishing from the builder.
            fake.functions = FakeMoodle.allFunctions
            let module = try #require(try await TrainingModule.query(on: app.db).filter(\.$slug == "preparing-a-short-training").first())
            _ = try await web.post("/courses", [("module", module.id!.uuidString), ("title", "Short trainings"), ("institution", tirana.id!.uuidString), ("language", "en")])
            let course = try #require(try await Course.query(on: app.db).first())
            let build = try await web.get("/courses/\(course.id!.uuidString)/build")
            #expect(build.body.string.contains("id=\"moodle-publish\""))
            #expect(try await web.post("/courses/\(course.id!.uuidString)/moodle", []).status == .seeOther)
            #expect(fake.courses.count == 1)
            // Moodle's section 0 holds the overview: the course asks for exactly its own sections.
            #expect(fake.courses.values.first?.sections == (try await CourseSection.query(on: app.db).filter(\.$course.$id == course.id!).count()))
            let learner = try await WebClient(app).get("/courses/\(course.id!.uuidString)").body.string
            #expect(learner.contains("id=\"continue-moodle\""))
            #expect(learner.contains("https://moodle.example/course/view.php?id="))
        }
    }
}
