import Fluent
import Vapor

/// Certificates: the printable page (A4 landscape print CSS, QR code of the verification URL), the PDF, revocation,
/// the public verification page, and the hosted Open Badges 2.0 documents.
struct CertificateRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("certificates", ":code", use: show)
        routes.get("certificates", ":code", "certificate.pdf", use: pdf)
        routes.grouped(User.redirectMiddleware(path: "/signin")).post("certificates", ":code", "revoke", use: revoke)
        routes.get("verify", use: verifyForm)
        routes.get("verify", ":code", use: verify)
        routes.get("badges", "issuers", ":institutionID", use: issuer)
        routes.get("badges", "classes", ":key", use: badgeClass)
        routes.get("badges", "classes", ":key", "image.svg", use: badgeImage)
        routes.get("badges", "assertions", ":code", use: assertion)
    }

    /// The certificate for a well-formed, known code; a malformed and an unknown code look the same (404).
    static func find(_ code: String?, on db: any Database) async throws -> Certificate? {
        let normalised = CertificateCode.normalise(code ?? "")
        guard CertificateCode.isWellFormed(normalised) else { return nil }
        guard let certificate = try await Certificate.query(on: db).filter(\.$code == normalised).first(),
              CertificateCode.equal(certificate.code, normalised) else { return nil }
        return certificate
    }

    struct CertificatePage: Encodable {
        var cert: CertificateView
        var form: FormState
    }

    struct CertificateView: Encodable {
        var code: String
        var displayCode: String
        var holder: String
        var event: String
        var kind: String
        var dates: String
        var hours: String
        var issuer: String
        var issued: String
        var valid: Bool
        var revokedOn: String?
        var reason: String?
        var verifyURL: String
        var qr: String
        var pdfHref: String
        var badgeHref: String
        var canRevoke: Bool
        var areas: String
    }

    static func grouped(_ code: String) -> String {
        stride(from: 0, to: code.count, by: 4).map { start in
            let from = code.index(code.startIndex, offsetBy: start)
            return String(code[from..<code.index(from, offsetBy: min(4, code.count - start))])
        }.joined(separator: "-")
    }

    func view(_ req: Request, _ certificate: Certificate) async throws -> CertificateView {
        let issuer = try await Institution.find(certificate.$issuer.id, on: req.db)
        let verifyURL = "\(req.application.config.baseURL)/verify/\(certificate.code)"
        var canRevoke = false
        if let actor = try await req.actor(), let issuer {
            let completion = try await TrainingCompletion.find(certificate.$completion.id, on: req.db)
            let event = try await completion.asyncMap { try await TrainingEvent.find($0.$event.id, on: req.db) } ?? nil
            canRevoke = actor.canManage(InstitutionPlace(institutionID: issuer.id!, countryCode: issuer.countryCode)) || event?.organiserID == actor.userID
        }
        let completion = try await TrainingCompletion.find(certificate.$completion.id, on: req.db)
        let sameDay = Calendar(identifier: .gregorian).isDate(certificate.firstDay, inSameDayAs: certificate.lastDay)
        return CertificateView(
            code: certificate.code, displayCode: Self.grouped(certificate.code), holder: certificate.holderName, event: certificate.eventTitle,
            kind: req.t("training.kind.\(certificate.eventKind)"),
            dates: sameDay ? req.formatDate(certificate.firstDay) : "\(req.formatDate(certificate.firstDay)) – \(req.formatDate(certificate.lastDay))",
            hours: req.formatNumber(certificate.hours, fractionDigits: certificate.hours == certificate.hours.rounded() ? 0 : 1),
            issuer: issuer.map { localized($0.names, req.locale) } ?? "", issued: req.formatDate(certificate.issuedAt),
            valid: certificate.revokedAt == nil, revokedOn: certificate.revokedAt.map { req.formatDate($0) }, reason: certificate.revokeReason,
            verifyURL: verifyURL, qr: QRCode(verifyURL)?.svg(label: req.t("training.qr_verify_label")) ?? "",
            pdfHref: "/certificates/\(certificate.code)/certificate.pdf", badgeHref: "/badges/assertions/\(certificate.code)",
            canRevoke: canRevoke, areas: completion?.areaList.joined(separator: ", ") ?? "")
    }

    func show(req: Request) async throws -> Response {
        guard let certificate = try await Self.find(req.parameters.get("code"), on: req.db) else { throw Abort(.notFound) }
        return try await req.page("training/certificate", titleKey: "training.certificate_title", titleArguments: [certificate.holderName],
                                  CertificatePage(cert: try await view(req, certificate), form: FormState()))
    }

    static func text(_ req: Request, _ view: CertificateView) -> CertificateText {
        CertificateText(
            heading: req.t("training.certificate_heading"), holder: view.holder, statement: req.t("training.certificate_statement"),
            event: view.event, details: [view.kind + " · " + view.dates, req.t("training.certificate_hours", view.hours)],
            issuer: view.issuer, status: view.valid ? nil : req.t("training.certificate_revoked_on", view.revokedOn ?? ""),
            verifyLine: req.t("training.certificate_verify_at"), verifyURL: view.verifyURL, code: view.displayCode)
    }

    func pdf(req: Request) async throws -> Response {
        guard let certificate = try await Self.find(req.parameters.get("code"), on: req.db) else { throw Abort(.notFound) }
        let data = CertificatePDF.render(Self.text(req, try await view(req, certificate)))
        let response = Response(status: .ok, body: .init(data: data))
        response.headers.contentType = HTTPMediaType(type: "application", subType: "pdf")
        response.headers.replaceOrAdd(name: .contentDisposition, value: "inline; filename=\"certificate-\(certificate.code).pdf\"")
        return response
    }

    func revoke(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let certificate = try await Self.find(req.parameters.get("code"), on: req.db) else { throw Abort(.notFound) }
        let reason = (try? req.content.get(String.self, at: "reason")) ?? ""
        do {
            try await req.training.revoke(certificate, reason: reason, by: actor)
            req.flash("success", "training.revoked_done")
        } catch let errors as FieldErrors {
            var state = FormState(values: ["reason": reason])
            for (field, key) in errors.fields { state.add(field, req.t(key)) }
            return try await req.page("training/certificate", titleKey: "training.certificate_title", titleArguments: [certificate.holderName],
                                      CertificatePage(cert: try await view(req, certificate), form: state), status: .unprocessableEntity)
        } catch let error as TrainingError {
            req.flash("error", error.catalogKey)
        }
        return req.seeOther("/certificates/\(certificate.code)")
    }

    // MARK: verification

    struct VerifyView: Encodable {
        var code: String
        var found: Bool
        var cert: CertificateView?
        var searched: Bool
    }

    func verifyForm(req: Request) async throws -> Response {
        if let code = try? req.query.get(String.self, at: "code"), !code.isEmpty {
            return req.redirect(to: "/verify/\(CertificateCode.normalise(code).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
        }
        return try await req.page("training/verify", titleKey: "training.verify_title", VerifyView(code: "", found: false, cert: nil, searched: false))
    }

    func verify(req: Request) async throws -> Response {
        let code = req.parameters.get("code") ?? ""
        guard let certificate = try await Self.find(code, on: req.db) else {
            return try await req.page("training/verify", titleKey: "training.verify_title",
                                      VerifyView(code: String(code.prefix(64)), found: false, cert: nil, searched: true), status: .notFound)
        }
        return try await req.page("training/verify", titleKey: "training.verify_title",
                                  VerifyView(code: certificate.code, found: true, cert: try await view(req, certificate), searched: true))
    }

    // MARK: Open Badges 2.0

    static func jsonLD<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let response = Response(status: status, body: .init(data: try encoder.encode(value)))
        response.headers.replaceOrAdd(name: .contentType, value: "application/ld+json; charset=utf-8")
        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: "*")
        return response
    }

    func issuer(req: Request) async throws -> Response {
        guard let id = req.parameters.get("institutionID", as: UUID.self), let institution = try await Institution.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        let base = req.application.config.baseURL
        return try Self.jsonLD(OpenBadges.Issuer(
            id: OpenBadges.issuerURL(base, institutionID: id), name: localized(institution.names, .en),
            url: institution.website ?? "\(base)/institutions/\(institution.slug)", email: nil,
            description: "Internationalisation at Home trainings of \(localized(institution.names, .en))"))
    }

    /// A module's BadgeClass (key = module id) or, for an event without a module, the event's (key = "event-<id>").
    static func badgeClassDocument(key: String, base: String, on db: any Database) async throws -> OpenBadges.BadgeClass? {
        if key.hasPrefix("event-"), let id = UUID(uuidString: String(key.dropFirst(6))), let event = try await TrainingEvent.find(id, on: db) {
            return OpenBadges.BadgeClass(
                id: OpenBadges.badgeClassURL(base, key: key), name: event.title,
                description: event.description.isEmpty ? event.title : String(event.description.prefix(1000)),
                image: OpenBadges.badgeClassURL(base, key: key) + "/image.svg",
                criteria: .init(id: "\(base)/events/\(id.uuidString)",
                                narrative: "Attend at least \(Int((event.minAttendance * 100).rounded()))% of the sessions\(event.requiresEvaluation ? " and submit the evaluation" : "")."),
                issuer: OpenBadges.issuerURL(base, institutionID: event.$institution.id), tags: event.areas)
        }
        guard let id = UUID(uuidString: key), let module = try await TrainingModule.find(id, on: db) else { return nil }
        let issuerID: UUID
        if let owner = module.$institution.id { issuerID = owner }
        else if let event = try await TrainingEvent.query(on: db).filter(\.$module.$id == id).first() { issuerID = event.$institution.id }
        else { return nil }
        return OpenBadges.BadgeClass(
            id: OpenBadges.badgeClassURL(base, key: key), name: localized(module.title, .en), description: localized(module.summary, .en),
            image: OpenBadges.badgeClassURL(base, key: key) + "/image.svg",
            criteria: .init(id: "\(base)/training/modules/\(module.slug)", narrative: localized(module.outcomes, .en)),
            issuer: OpenBadges.issuerURL(base, institutionID: issuerID), tags: module.areas)
    }

    func badgeClass(req: Request) async throws -> Response {
        guard let document = try await Self.badgeClassDocument(key: req.parameters.get("key") ?? "", base: req.application.config.baseURL, on: req.db) else {
            throw Abort(.notFound)
        }
        return try Self.jsonLD(document)
    }

    func badgeImage(req: Request) async throws -> Response {
        guard let document = try await Self.badgeClassDocument(key: req.parameters.get("key") ?? "", base: req.application.config.baseURL, on: req.db) else {
            throw Abort(.notFound)
        }
        let response = Response(status: .ok, body: .init(string: OpenBadges.image(title: document.name)))
        response.headers.contentType = HTTPMediaType(type: "image", subType: "svg+xml")
        return response
    }

    /// The hosted assertion; a revoked one answers 410 Gone with `revoked: true` and the reason, as the specification asks.
    func assertion(req: Request) async throws -> Response {
        guard let certificate = try await Self.find(req.parameters.get("code"), on: req.db),
              let completion = try await TrainingCompletion.find(certificate.$completion.id, on: req.db),
              let event = try await TrainingEvent.find(completion.$event.id, on: req.db) else { throw Abort(.notFound) }
        let key = event.$module.id?.uuidString ?? "event-\(event.id!.uuidString)"
        let document = OpenBadges.assertion(baseURL: req.application.config.baseURL, code: certificate.code, email: certificate.holderEmail,
                                            salt: certificate.badgeSalt, badgeKey: key, issuedOn: certificate.issuedAt,
                                            revokedReason: certificate.revokedAt == nil ? nil : (certificate.revokeReason ?? "revoked"))
        return try Self.jsonLD(document, status: certificate.revokedAt == nil ? .ok : .gone)
    }
}
