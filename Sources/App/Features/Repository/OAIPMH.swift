// OAIPMH.swift
// OAI-PMH 2.0 data-provider ("repository") protocol logic for Interba's knowledge repository.
// Spec: https://www.openarchives.org/OAI/openarchivesprotocol.html
//
// Foundation only: no Vapor or Fluent here. Route handlers collect the request arguments (GET query
// or POST form body, repeats kept, in order), call `OAIPMH.respond(params:source:)`, and send the
// returned XML with HTTP 200 and `OAIPMH.contentType`. Storage is reached only through
// `OAIDataSource`.
//
// Every top-level type has the `OAI` prefix, so this file can sit in a module with other types.

import Foundation

// MARK: - Public model

/// A set in the repository's set hierarchy, e.g. spec `area:A4`, `institution:tirana`.
/// Specs must match the OAI `setSpecType` pattern (colon-separated components of
/// `A-Za-z0-9-_.!~*'()`); sets with other specs are left out of responses so the XML stays valid.
public struct OAISet: Sendable, Equatable {
    public var spec: String
    public var name: String

    public init(spec: String, name: String) {
        self.spec = spec
        self.name = name
    }
}

/// Unqualified Dublin Core for the `oai_dc` format. Each field can repeat. Elements are written in
/// this order: title, creator, subject, description, publisher, contributor, date, type, format,
/// identifier, source, language, relation, rights, coverage.
public struct OAIDublinCore: Sendable, Equatable {
    public var titles: [String]
    public var creators: [String]
    public var subjects: [String]
    public var descriptions: [String]
    public var publishers: [String]
    public var dates: [String]
    public var types: [String]
    public var formats: [String]
    public var identifiers: [String]
    public var languages: [String]
    public var relations: [String]
    public var rights: [String]
    public var coverage: [String]
    /// Extra: dc:contributor. Its init parameter comes after the original thirteen.
    public var contributors: [String]
    /// Extra: dc:source. Its init parameter comes after the original thirteen.
    public var sources: [String]

    public init(
        titles: [String] = [], creators: [String] = [], subjects: [String] = [],
        descriptions: [String] = [], publishers: [String] = [], dates: [String] = [],
        types: [String] = [], formats: [String] = [], identifiers: [String] = [],
        languages: [String] = [], relations: [String] = [], rights: [String] = [],
        coverage: [String] = [], contributors: [String] = [], sources: [String] = []
    ) {
        self.titles = titles
        self.creators = creators
        self.subjects = subjects
        self.descriptions = descriptions
        self.publishers = publishers
        self.dates = dates
        self.types = types
        self.formats = formats
        self.identifiers = identifiers
        self.languages = languages
        self.relations = relations
        self.rights = rights
        self.coverage = coverage
        self.contributors = contributors
        self.sources = sources
    }
}

/// One item as the repository exposes it.
public struct OAIItem: Sendable {
    /// The full OAI identifier, e.g. `oai:interba.example.org:doc/42`.
    public var identifier: String
    /// Creation, change or deletion time. Written at whole-second precision (fractions dropped).
    public var datestamp: Date
    /// Sets the item belongs to. List every level of the hierarchy you want to show in the header;
    /// the `set` filter itself is hierarchical (see `OAIListQuery.set`).
    public var setSpecs: [String]
    /// If true, the header gets `status="deleted"` and no metadata is written.
    public var deleted: Bool
    /// nil when deleted. A live item with nil metadata gets an empty `oai_dc:dc`.
    public var metadata: OAIDublinCore?

    public init(identifier: String, datestamp: Date, setSpecs: [String] = [], deleted: Bool = false,
                metadata: OAIDublinCore? = nil) {
        self.identifier = identifier
        self.datestamp = datestamp
        self.setSpecs = setSpecs
        self.deleted = deleted
        self.metadata = metadata
    }
}

/// What the Identify verb reports.
public struct OAIIdentity: Sendable {
    public var repositoryName: String
    /// The verb endpoint URL. It is also the content of `<request>` in every response.
    public var baseURL: String
    /// Needs at least one address matching `\S+@(\S+\.)+\S+` for the response to pass the schema.
    public var adminEmails: [String]
    public var earliestDatestamp: Date
    /// For example `oai:interba.example.org:`. If it has the form `oai:<domain>:`, Identify adds an
    /// `oai-identifier` description block; otherwise that block is left out.
    public var identifierPrefix: String
    /// Extra: the `sampleIdentifier` for the oai-identifier block. If nil, Identify uses the first
    /// item's identifier when it fits the scheme, or else `identifierPrefix + "1"`.
    public var sampleIdentifier: String?

    public init(repositoryName: String, baseURL: String, adminEmails: [String], earliestDatestamp: Date,
                identifierPrefix: String, sampleIdentifier: String? = nil) {
        self.repositoryName = repositoryName
        self.baseURL = baseURL
        self.adminEmails = adminEmails
        self.earliestDatestamp = earliestDatestamp
        self.identifierPrefix = identifierPrefix
        self.sampleIdentifier = sampleIdentifier
    }
}

/// A request for one page of the item list.
///
/// Filtering rules for `OAIDataSource.items(_:)` (`matches(_:)` applies them in memory):
/// - `from` and `until` are inclusive and whole seconds. Compare the datestamp with its fractional
///   second dropped: `from <= datestamp < until + 1s`. A day-granularity `until` has already been
///   turned into 23:59:59 of that day.
/// - `set` is hierarchical: `area` matches items in `area` and in `area:A4`, `area:A4:x`, and so on.
/// - Results are ordered stably by (datestamp, identifier). Return the slice `offset ..< offset+limit`.
public struct OAIListQuery: Sendable, Equatable {
    public var from: Date?
    public var until: Date?
    public var set: String?
    public var offset: Int
    public var limit: Int
    /// The complete list size counted for the first page and carried in the resumption token, so later pages need
    /// not count again; a source may return it as `total` (nil: count).
    public var knownTotal: Int?

    public init(from: Date? = nil, until: Date? = nil, set: String? = nil, offset: Int = 0,
                limit: Int = OAIPMH.pageSize, knownTotal: Int? = nil) {
        self.from = from
        self.until = until
        self.set = set
        self.offset = offset
        self.limit = limit
        self.knownTotal = knownTotal
    }

    /// Exclusive upper bound, `until + 1s`, for storage queries (`datestamp < untilExclusive`).
    public var untilExclusive: Date? {
        until.map { Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down) + 1) }
    }

    /// Whether a datestamp falls in [from, until], comparing whole seconds.
    public func includes(datestamp: Date) -> Bool {
        let t = datestamp.timeIntervalSince1970.rounded(.down)
        if let from = from, t < from.timeIntervalSince1970 { return false }
        if let until = until, t > until.timeIntervalSince1970 { return false }
        return true
    }

    /// Whether an item in these sets is in `set`, including descendant sets.
    public func includes(setSpecs: [String]) -> Bool {
        guard let set = set else { return true }
        return setSpecs.contains { $0 == set || $0.hasPrefix(set + ":") }
    }

    /// Both filters together (handy for in-memory sources and tests).
    public func matches(_ item: OAIItem) -> Bool {
        includes(datestamp: item.datestamp) && includes(setSpecs: item.setSpecs)
    }
}

/// Where the protocol layer gets repository data.
public protocol OAIDataSource: Sendable {
    func identity() async throws -> OAIIdentity
    /// Return an empty array when the repository has no sets (gives `noSetHierarchy`).
    func sets() async throws -> [OAISet]
    /// Items ordered stably (datestamp, then identifier) after filtering; `total` = complete list size for this filter.
    func items(_ query: OAIListQuery) async throws -> (items: [OAIItem], total: Int)
    /// Look up one item by its full OAI identifier, including deleted items (tombstones).
    func item(identifier: String) async throws -> OAIItem?
}

/// The OAI-PMH 2.0 error codes.
public enum OAIErrorCode: String, Sendable, CaseIterable {
    case badArgument
    case badResumptionToken
    case badVerb
    case cannotDisseminateFormat
    case idDoesNotExist
    case noMetadataFormats
    case noRecordsMatch
    case noSetHierarchy
}

// MARK: - Protocol engine

public enum OAIPMH {
    /// Items per page for ListIdentifiers and ListRecords.
    public static let pageSize = 100
    /// The Content-Type for responses. The HTTP status is always 200.
    public static let contentType = "text/xml; charset=utf-8"

    public static let dublinCorePrefix = "oai_dc"
    public static let dublinCoreSchema = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
    public static let dublinCoreNamespace = "http://www.openarchives.org/OAI/2.0/oai_dc/"
    public static let granularity = "YYYY-MM-DDThh:mm:ssZ"

    static let oaiNamespace = "http://www.openarchives.org/OAI/2.0/"
    static let xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"
    static let dcNamespace = "http://purl.org/dc/elements/1.1/"

    /// `params`: the query (GET) or form (POST) arguments, keeping repeats, in order. Returns the whole XML document (UTF-8 string); HTTP status is always 200.
    public static func respond(params: [(String, String)], source: any OAIDataSource, now: Date = Date()) async throws -> String {
        let identity = try await source.identity()
        let responseDate = formatDatestamp(now)

        // The verb.
        let verbValues = params.filter { $0.0 == "verb" }.map { $0.1 }
        let verb: OAIVerb
        switch verbValues.count {
        case 0:
            return document(responseDate: responseDate, baseURL: identity.baseURL, requestAttributes: [],
                            body: errorsXML(OAIFailure(.badVerb, "The request has no verb argument.")))
        case 1:
            guard let v = OAIVerb(rawValue: verbValues[0]) else {
                return document(responseDate: responseDate, baseURL: identity.baseURL, requestAttributes: [],
                                body: errorsXML(OAIFailure(.badVerb, "'\(clip(verbValues[0]))' is not an OAI-PMH verb.")))
            }
            verb = v
        default:
            return document(responseDate: responseDate, baseURL: identity.baseURL, requestAttributes: [],
                            body: errorsXML(OAIFailure(.badVerb, "The verb argument is repeated.")))
        }

        // The arguments, then the verb itself.
        var args: [String: String] = [:]
        do {
            for (name, value) in params where name != "verb" {
                guard verb.allowedArguments.contains(name) else {
                    throw OAIFailure(.badArgument, "'\(clip(name))' is not a legal argument for \(verb.rawValue).")
                }
                guard args[name] == nil else {
                    throw OAIFailure(.badArgument, "The argument '\(name)' is repeated.")
                }
                guard !value.isEmpty else {
                    throw OAIFailure(.badArgument, "The argument '\(name)' is empty.")
                }
                args[name] = value
            }
            let body: String
            switch verb {
            case .identify: body = try await identify(identity, source: source)
            case .listMetadataFormats: body = try await listMetadataFormats(args, source: source)
            case .listSets: body = try await listSets(args, source: source)
            case .getRecord: body = try await getRecord(args, source: source)
            case .listIdentifiers, .listRecords: body = try await list(verb, args, source: source)
            }
            return document(responseDate: responseDate, baseURL: identity.baseURL,
                            requestAttributes: requestAttributes(verb, args), body: body)
        } catch let failure as OAIFailure {
            // The spec says the request element carries no attributes after badVerb or badArgument.
            let attributes = failure.echoesArguments ? requestAttributes(verb, args) : []
            return document(responseDate: responseDate, baseURL: identity.baseURL,
                            requestAttributes: attributes, body: errorsXML(failure))
        }
    }

    /// Parse an `application/x-www-form-urlencoded` string (a raw URL query or POST body) into
    /// ordered pairs, keeping repeats. `+` becomes a space; bad percent escapes stay as written.
    public static func parseFormEncoded(_ raw: String) -> [(String, String)] {
        func decode(_ s: Substring) -> String {
            let plus = s.replacingOccurrences(of: "+", with: " ")
            return plus.removingPercentEncoding ?? plus
        }
        return raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Format a date as `YYYY-MM-DDThh:mm:ssZ` in UTC, ignoring the machine's locale and time zone.
    public static func formatDatestamp(_ date: Date) -> String {
        OAIDate.format(date)
    }

    /// Parse an OAI `from`/`until` value: `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`, UTC, year >= 1000.
    /// A day value gives midnight at the start of that day.
    public static func parseDatestamp(_ string: String) -> Date? {
        OAIDate.parse(string)?.date
    }

    // MARK: Verbs

    private static func identify(_ identity: OAIIdentity, source: any OAIDataSource) async throws -> String {
        var x = OAIXMLBuffer()
        x.open("Identify")
        x.element("repositoryName", identity.repositoryName)
        x.element("baseURL", identity.baseURL)
        x.element("protocolVersion", "2.0")
        for email in identity.adminEmails { x.element("adminEmail", email) }
        x.element("earliestDatestamp", formatDatestamp(identity.earliestDatestamp))
        x.element("deletedRecord", "persistent")
        x.element("granularity", granularity)
        if let repositoryIdentifier = OAISyntax.repositoryIdentifier(fromPrefix: identity.identifierPrefix) {
            var sample = identity.sampleIdentifier
            if sample == nil,
               let first = try? await source.items(OAIListQuery(offset: 0, limit: 1)).items.first,
               OAISyntax.isSampleIdentifier(first.identifier, prefix: identity.identifierPrefix) {
                sample = first.identifier
            }
            let sampleIdentifier = sample.flatMap {
                OAISyntax.isSampleIdentifier($0, prefix: identity.identifierPrefix) ? $0 : nil
            } ?? identity.identifierPrefix + "1"
            x.open("description")
            x.open("oai-identifier", [
                ("xmlns", "http://www.openarchives.org/OAI/2.0/oai-identifier"),
                ("xmlns:xsi", xsiNamespace),
                ("xsi:schemaLocation", "http://www.openarchives.org/OAI/2.0/oai-identifier http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"),
            ])
            x.element("scheme", "oai")
            x.element("repositoryIdentifier", repositoryIdentifier)
            x.element("delimiter", ":")
            x.element("sampleIdentifier", sampleIdentifier)
            x.close("oai-identifier")
            x.close("description")
        }
        x.close("Identify")
        return x.out
    }

    private static func listMetadataFormats(_ args: [String: String], source: any OAIDataSource) async throws -> String {
        if let identifier = args["identifier"] {
            guard try await source.item(identifier: identifier) != nil else {
                throw OAIFailure(.idDoesNotExist, "No item has the identifier '\(clip(identifier))'.")
            }
        }
        var x = OAIXMLBuffer()
        x.open("ListMetadataFormats")
        x.open("metadataFormat")
        x.element("metadataPrefix", dublinCorePrefix)
        x.element("schema", dublinCoreSchema)
        x.element("metadataNamespace", dublinCoreNamespace)
        x.close("metadataFormat")
        x.close("ListMetadataFormats")
        return x.out
    }

    private static func listSets(_ args: [String: String], source: any OAIDataSource) async throws -> String {
        let sets = try await source.sets().filter { OAISyntax.isSetSpec($0.spec) }
        guard !sets.isEmpty else {
            throw OAIFailure(.noSetHierarchy, "This repository does not support sets.")
        }
        if args["resumptionToken"] != nil {
            // ListSets is never paged, so no token can be valid here.
            throw OAIFailure(.badResumptionToken, "The resumptionToken is invalid or has expired.")
        }
        var x = OAIXMLBuffer()
        x.open("ListSets")
        for set in sets {
            x.open("set")
            x.element("setSpec", set.spec)
            x.element("setName", set.name)
            x.close("set")
        }
        x.close("ListSets")
        return x.out
    }

    private static func getRecord(_ args: [String: String], source: any OAIDataSource) async throws -> String {
        guard let identifier = args["identifier"] else {
            throw OAIFailure(.badArgument, "GetRecord needs an identifier argument.")
        }
        guard let prefix = args["metadataPrefix"] else {
            throw OAIFailure(.badArgument, "GetRecord needs a metadataPrefix argument.")
        }
        guard OAISyntax.isMetadataPrefix(prefix) else {
            throw OAIFailure(.badArgument, "The metadataPrefix argument has illegal characters.")
        }
        var failure = OAIFailure(entries: [])
        if prefix != dublinCorePrefix {
            failure.entries.append(.init(code: .cannotDisseminateFormat,
                                         message: "The metadata format '\(prefix)' is not supported; use oai_dc."))
        }
        let item = try await source.item(identifier: identifier)
        if item == nil {
            failure.entries.append(.init(code: .idDoesNotExist,
                                         message: "No item has the identifier '\(clip(identifier))'."))
        }
        guard failure.entries.isEmpty, let found = item else { throw failure }
        var x = OAIXMLBuffer()
        x.open("GetRecord")
        writeRecord(found, into: &x)
        x.close("GetRecord")
        return x.out
    }

    private static func list(_ verb: OAIVerb, _ args: [String: String], source: any OAIDataSource) async throws -> String {
        let state: OAIResumptionState
        let resumed: Bool
        if let token = args["resumptionToken"] {
            guard args.count == 1 else {
                throw OAIFailure(.badArgument, "resumptionToken is an exclusive argument: it cannot be combined with others.")
            }
            guard let decoded = OAIResumptionToken.decode(token), decoded.metadataPrefix == dublinCorePrefix else {
                throw OAIFailure(.badResumptionToken, "The resumptionToken is invalid or has expired.")
            }
            state = decoded
            resumed = true
        } else {
            guard let prefix = args["metadataPrefix"] else {
                throw OAIFailure(.badArgument, "\(verb.rawValue) needs a metadataPrefix argument.")
            }
            guard OAISyntax.isMetadataPrefix(prefix) else {
                throw OAIFailure(.badArgument, "The metadataPrefix argument has illegal characters.")
            }
            var from: OAIDate.Parsed?
            var until: OAIDate.Parsed?
            if let raw = args["from"] {
                guard let parsed = OAIDate.parse(raw) else {
                    throw OAIFailure(.badArgument, "The from argument is not a valid YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ date.")
                }
                from = parsed
            }
            if let raw = args["until"] {
                guard let parsed = OAIDate.parse(raw) else {
                    throw OAIFailure(.badArgument, "The until argument is not a valid YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ date.")
                }
                until = parsed
            }
            if let from = from, let until = until, from.dayGranularity != until.dayGranularity {
                throw OAIFailure(.badArgument, "The from and until arguments have different granularities.")
            }
            let untilDate = until.map { $0.dayGranularity ? $0.date.addingTimeInterval(86_399) : $0.date }
            if let from = from, let untilDate = untilDate, from.date > untilDate {
                throw OAIFailure(.badArgument, "The from argument is later than the until argument.")
            }
            let set = args["set"]
            if let set = set, !OAISyntax.isSetSpec(set) {
                throw OAIFailure(.badArgument, "The set argument is not a valid setSpec.")
            }
            guard prefix == dublinCorePrefix else {
                throw OAIFailure(.cannotDisseminateFormat, "The metadata format '\(prefix)' is not supported; use oai_dc.")
            }
            if set != nil, try await source.sets().isEmpty {
                throw OAIFailure(.noSetHierarchy, "This repository does not support sets.")
            }
            state = OAIResumptionState(metadataPrefix: prefix, set: set, from: from?.date, until: untilDate, offset: 0)
            resumed = false
        }

        let query = OAIListQuery(from: state.from, until: state.until, set: state.set,
                                 offset: state.offset, limit: pageSize, knownTotal: state.total)
        let result = try await source.items(query)
        let page = Array(result.items.prefix(pageSize))
        if resumed && (state.offset >= result.total || page.isEmpty) {
            throw OAIFailure(.badResumptionToken, "The resumptionToken is past the end of the list, or the list has changed.")
        }
        guard !page.isEmpty else {
            throw OAIFailure(.noRecordsMatch, "No records match the request.")
        }
        let end = state.offset + page.count
        let total = max(result.total, end)

        var x = OAIXMLBuffer()
        x.open(verb.rawValue)
        for item in page {
            if verb == .listRecords {
                writeRecord(item, into: &x)
            } else {
                writeHeader(item, into: &x)
            }
        }
        let tokenAttributes = [("completeListSize", String(total)), ("cursor", String(state.offset))]
        if end < total {
            var next = state
            next.offset = end
            next.total = total
            x.element("resumptionToken", OAIResumptionToken.encode(next), tokenAttributes)
        } else if state.offset > 0 {
            x.empty("resumptionToken", tokenAttributes)
        }
        x.close(verb.rawValue)
        return x.out
    }

    // MARK: Writers

    private static func writeHeader(_ item: OAIItem, into x: inout OAIXMLBuffer) {
        x.open("header", item.deleted ? [("status", "deleted")] : [])
        x.element("identifier", item.identifier)
        x.element("datestamp", formatDatestamp(item.datestamp))
        for spec in item.setSpecs where OAISyntax.isSetSpec(spec) {
            x.element("setSpec", spec)
        }
        x.close("header")
    }

    private static func writeRecord(_ item: OAIItem, into x: inout OAIXMLBuffer) {
        x.open("record")
        writeHeader(item, into: &x)
        if !item.deleted {
            let dc = item.metadata ?? OAIDublinCore()
            x.open("metadata")
            x.open("oai_dc:dc", [
                ("xmlns:oai_dc", dublinCoreNamespace),
                ("xmlns:dc", dcNamespace),
                ("xmlns:xsi", xsiNamespace),
                ("xsi:schemaLocation", "\(dublinCoreNamespace) \(dublinCoreSchema)"),
            ])
            let fields: [(String, [String])] = [
                ("title", dc.titles), ("creator", dc.creators), ("subject", dc.subjects),
                ("description", dc.descriptions), ("publisher", dc.publishers),
                ("contributor", dc.contributors), ("date", dc.dates), ("type", dc.types),
                ("format", dc.formats), ("identifier", dc.identifiers), ("source", dc.sources),
                ("language", dc.languages), ("relation", dc.relations), ("rights", dc.rights),
                ("coverage", dc.coverage),
            ]
            for (name, values) in fields {
                for value in values { x.element("dc:" + name, value) }
            }
            x.close("oai_dc:dc")
            x.close("metadata")
        }
        x.close("record")
    }

    private static func requestAttributes(_ verb: OAIVerb, _ args: [String: String]) -> [(String, String)] {
        var attributes = [("verb", verb.rawValue)]
        for name in ["identifier", "metadataPrefix", "from", "until", "set", "resumptionToken"] {
            if let value = args[name] { attributes.append((name, value)) }
        }
        return attributes
    }

    private static func errorsXML(_ failure: OAIFailure) -> String {
        var x = OAIXMLBuffer()
        for entry in failure.entries {
            x.element("error", entry.message, [("code", entry.code.rawValue)])
        }
        return x.out
    }

    private static func document(responseDate: String, baseURL: String, requestAttributes: [(String, String)],
                                 body: String) -> String {
        var x = OAIXMLBuffer()
        x.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x.open("OAI-PMH", [
            ("xmlns", oaiNamespace),
            ("xmlns:xsi", xsiNamespace),
            ("xsi:schemaLocation", "\(oaiNamespace) http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"),
        ])
        x.element("responseDate", responseDate)
        x.element("request", baseURL, requestAttributes)
        x.out += body
        x.close("OAI-PMH")
        x.out += "\n"
        return x.out
    }

    /// Shortens user-supplied text quoted in error messages.
    private static func clip(_ s: String) -> String {
        s.count <= 80 ? s : String(s.prefix(80)) + "…"
    }
}

// MARK: - Internals

enum OAIVerb: String, Sendable {
    case identify = "Identify"
    case listMetadataFormats = "ListMetadataFormats"
    case listSets = "ListSets"
    case getRecord = "GetRecord"
    case listIdentifiers = "ListIdentifiers"
    case listRecords = "ListRecords"

    var allowedArguments: Set<String> {
        switch self {
        case .identify: return []
        case .listMetadataFormats: return ["identifier"]
        case .listSets: return ["resumptionToken"]
        case .getRecord: return ["identifier", "metadataPrefix"]
        case .listIdentifiers, .listRecords: return ["metadataPrefix", "from", "until", "set", "resumptionToken"]
        }
    }
}

/// A protocol error to report as one or more `<error>` elements.
struct OAIFailure: Error, Sendable {
    struct Entry: Sendable {
        var code: OAIErrorCode
        var message: String
    }
    var entries: [Entry]

    init(entries: [Entry]) { self.entries = entries }
    init(_ code: OAIErrorCode, _ message: String) { self.entries = [Entry(code: code, message: message)] }

    /// The spec says the request element carries no attributes after badVerb or badArgument.
    var echoesArguments: Bool {
        !entries.contains { $0.code == .badVerb || $0.code == .badArgument }
    }
}

/// Lexical checks taken from the OAI-PMH and oai-identifier XML Schemas.
enum OAISyntax {
    /// Characters allowed in metadataPrefix and setSpec components: `A-Za-z0-9-_.!~*'()`.
    static func isUnreserved(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9", "-", "_", ".", "!", "~", "*", "'", "(", ")": return true
        default: return false
        }
    }

    static func isMetadataPrefix(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy(isUnreserved)
    }

    static func isSetSpec(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy(isUnreserved) }
    }

    /// `[a-zA-Z0-9][a-zA-Z0-9\-]*(\.[a-zA-Z0-9][a-zA-Z0-9\-]*)+`
    static func isRepositoryIdentifier(_ s: String) -> Bool {
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            guard let first = label.unicodeScalars.first, isAlnum(first) else { return false }
            return label.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "-" }
        }
    }

    /// `oai:<repositoryIdentifier>:` gives `<repositoryIdentifier>`; anything else gives nil.
    static func repositoryIdentifier(fromPrefix prefix: String) -> String? {
        guard prefix.hasPrefix("oai:"), prefix.hasSuffix(":"), prefix.count > 5 else { return nil }
        let middle = String(prefix.dropFirst(4).dropLast())
        return isRepositoryIdentifier(middle) ? middle : nil
    }

    /// The local part after the prefix must match `[a-zA-Z0-9\-_\.!~\*'\(\);/\?:@&=\+$,%]+`.
    static func isSampleIdentifier(_ s: String, prefix: String) -> Bool {
        guard s.hasPrefix(prefix) else { return false }
        let local = s.dropFirst(prefix.count)
        return !local.isEmpty && local.unicodeScalars.allSatisfy { c in
            isUnreserved(c) || ";/?:@&=+$,%".unicodeScalars.contains(c)
        }
    }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "A"..."Z", "a"..."z", "0"..."9": return true
        default: return false
        }
    }
}

/// UTC date handling with plain calendar arithmetic (proleptic Gregorian), so the machine's
/// locale, time zone and calendar make no difference.
enum OAIDate {
    struct Parsed {
        var date: Date
        var dayGranularity: Bool
    }

    static func format(_ date: Date) -> String {
        // Clamp to years 0001...9999 so odd input cannot overflow the arithmetic.
        let t = min(max(date.timeIntervalSince1970, -62_135_596_800), 253_402_300_799)
        let seconds = Int64(t.rounded(.down))
        var days = seconds / 86_400
        var rem = seconds % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
            + pad(rem / 3600, 2) + ":" + pad(rem % 3600 / 60, 2) + ":" + pad(rem % 60, 2) + "Z"
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ssZ`. The year must be 1000 or later.
    static func parse(_ s: String) -> Parsed? {
        let b = Array(s.utf8)
        guard b.count == 10 || b.count == 20 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard let y = number(0..<4), b[4] == 0x2D, let m = number(5..<7), b[7] == 0x2D,
              let d = number(8..<10) else { return nil }
        guard y >= 1000, (1...12).contains(m), d >= 1, d <= daysInMonth(y, m) else { return nil }
        var seconds = days(fromCivil: y, m, d) * 86_400
        if b.count == 20 {
            guard b[10] == 0x54 /* T */, let hh = number(11..<13), b[13] == 0x3A, let mm = number(14..<16),
                  b[16] == 0x3A, let ss = number(17..<19), b[19] == 0x5A /* Z */,
                  hh < 24, mm < 60, ss < 60 else { return nil }
            seconds += hh * 3600 + mm * 60 + ss
        }
        return Parsed(date: Date(timeIntervalSince1970: TimeInterval(seconds)), dayGranularity: b.count == 10)
    }

    static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (H. Hinnant's days_from_civil).
    static func days(fromCivil year: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The reverse of `days(fromCivil:)`.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// What a resumption token carries. It does not depend on the verb: a token from
/// ListIdentifiers also works with ListRecords.
struct OAIResumptionState: Sendable, Equatable {
    var metadataPrefix: String
    var set: String?
    var from: Date?
    var until: Date?
    var offset: Int
    /// The complete list size counted on the first page (absent in tokens of earlier versions).
    var total: Int? = nil
}

/// Stateless, opaque resumption tokens: base64url (no padding) of
/// `1|prefix|set|fromEpoch|untilEpoch|offset[|total]` plus an 8-byte FNV-1a checksum. The checksum
/// catches random edits and truncation. It is not a signature: a forged token can only ask for
/// a list anyone can already request directly.
enum OAIResumptionToken {
    private static let salt = Array("interba-oai-pmh-rt-v1".utf8)
    private static let maxLength = 1024

    static func encode(_ state: OAIResumptionState) -> String {
        func epoch(_ d: Date?) -> String { d.map { String(Int64($0.timeIntervalSince1970.rounded(.down))) } ?? "" }
        let payload = (["1", state.metadataPrefix, state.set ?? "", epoch(state.from), epoch(state.until),
                        String(state.offset)] + (state.total.map { [String($0)] } ?? [])).joined(separator: "|")
        var bytes = Array(payload.utf8)
        var sum = checksum(bytes).bigEndian
        withUnsafeBytes(of: &sum) { bytes.append(contentsOf: $0) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String) -> OAIResumptionState? {
        guard !token.isEmpty, token.utf8.count <= maxLength,
              token.unicodeScalars.allSatisfy({ OAISyntax.isAlnum($0) || $0 == "-" || $0 == "_" }),
              token.utf8.count % 4 != 1 else { return nil }
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        b64 += String(repeating: "=", count: (4 - b64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: b64), data.count > 8 else { return nil }
        let bytes = [UInt8](data)
        let payload = Array(bytes[0..<(bytes.count - 8)])
        let stored = bytes[(bytes.count - 8)...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard stored == checksum(payload), let text = String(bytes: payload, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6 || fields.count == 7, fields[0] == "1", OAISyntax.isMetadataPrefix(fields[1]),
              fields[2].isEmpty || OAISyntax.isSetSpec(fields[2]),
              let offset = Int(fields[5]), offset >= 0 else { return nil }
        var total: Int?
        if fields.count == 7 {
            guard let value = Int(fields[6]), value >= 0 else { return nil }
            total = value
        }
        func date(_ s: String) -> Date?? {
            if s.isEmpty { return .some(nil) }
            guard let v = Int64(s), abs(v) < 300_000_000_000 else { return nil }
            return .some(Date(timeIntervalSince1970: TimeInterval(v)))
        }
        guard let from = date(fields[3]), let until = date(fields[4]) else { return nil }
        let state = OAIResumptionState(metadataPrefix: fields[1], set: fields[2].isEmpty ? nil : fields[2],
                                       from: from, until: until, offset: offset, total: total)
        // Accept only the canonical form, so no other spelling of the same state gets through.
        return encode(state) == token ? state : nil
    }

    /// 64-bit FNV-1a over salt + payload.
    private static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in salt + bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// A small XML string builder for compact output. Text and attribute values are escaped, and
/// characters that XML 1.0 does not allow are dropped.
struct OAIXMLBuffer {
    var out = ""

    mutating func open(_ name: String, _ attributes: [(String, String)] = []) {
        out += "<" + name
        writeAttributes(attributes)
        out += ">"
    }

    mutating func close(_ name: String) {
        out += "</" + name + ">"
    }

    mutating func element(_ name: String, _ text: String, _ attributes: [(String, String)] = []) {
        open(name, attributes)
        out += OAIXMLBuffer.escape(text, inAttribute: false)
        close(name)
    }

    mutating func empty(_ name: String, _ attributes: [(String, String)] = []) {
        out += "<" + name
        writeAttributes(attributes)
        out += "/>"
    }

    private mutating func writeAttributes(_ attributes: [(String, String)]) {
        for (key, value) in attributes {
            out += " " + key + "=\"" + OAIXMLBuffer.escape(value, inAttribute: true) + "\""
        }
    }

    /// Escapes &, <, >, ", ' and CR, which a parser would otherwise turn into LF. In attributes
    /// it also escapes tab and LF, which attribute normalization would turn into spaces. It drops
    /// C0 controls other than tab, LF and CR, plus U+FFFE and U+FFFF.
    static func escape(_ s: String, inAttribute: Bool) -> String {
        // Most text needs nothing: check the bytes first (no markup characters, no control characters, and no
        // 0xEF lead byte, which starts U+FFFE and U+FFFF).
        let clean = s.utf8.allSatisfy { byte in
            switch byte {
            case 0x26, 0x3C, 0x3E, 0x22, 0x27, 0x0D, 0xEF: return false
            case 0x09, 0x0A: return !inAttribute
            case 0x00..<0x20: return false
            default: return true
            }
        }
        if clean { return s }
        var result = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x26: result.append(contentsOf: "&amp;".unicodeScalars)
            case 0x3C: result.append(contentsOf: "&lt;".unicodeScalars)
            case 0x3E: result.append(contentsOf: "&gt;".unicodeScalars)
            case 0x22: result.append(contentsOf: "&quot;".unicodeScalars)
            case 0x27: result.append(contentsOf: "&apos;".unicodeScalars)
            case 0x0D: result.append(contentsOf: "&#13;".unicodeScalars)
            case 0x09: if inAttribute { result.append(contentsOf: "&#9;".unicodeScalars) } else { result.append(scalar) }
            case 0x0A: if inAttribute { result.append(contentsOf: "&#10;".unicodeScalars) } else { result.append(scalar) }
            case 0x00..<0x20, 0xFFFE, 0xFFFF: continue
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}
