// A node-opcua server for the OPC UA interop tier (scada/opcua, build tag
// interop). It serves Basic256Sha256 with Sign and SignAndEncrypt, with the
// certificate and key the Go test generated, accepts one user name and
// password or any user certificate, and trusts any client certificate (the test checks the client's
// side of the trust, not the server's). It prints "READY <endpoint>" once it
// listens on 127.0.0.1.
//
// For events and history it also serves alarms and a historian:
// Boiler1.FlueTemp (480 °C) with an ExclusiveLimitAlarm (high at 450,
// so active from the start), Boiler1.FlameOk (false) with an OffNormalAlarm
// (normal is true, so active from the start), both reported through the
// Server object; Boiler1.Counter, a historized counter that counts up by 1
// every 20 ms, so a reader sees a gap or a duplicate as a step that is not 1.
// Condition refresh, Acknowledge and Confirm are node-opcua's own.
// Writing N to Boiler1.EventBurst raises N events (severity 500, message
// "burst") at once, for the event benchmark.
//
// A synthetic historian serves Hist.0 .. Hist.<n-1> (GL001_HISTORY_TAGS=n):
// each is a live variable that takes a new value every second, at the
// second, and whose history is computed, not stored: the value of Hist.k at
// unix second s is k*1e6 + (s mod 1e6), in live data and in history alike,
// for every second from the start of history to the last second published.
// History starts GL001_HISTORY_SECONDS seconds before the server starts (0:
// at the start), and the script prints "HISTORY <unix ms of the start>".
// Nothing is held in memory per value: a history read yields its values
// page by page through node-opcua's own continuation points, computing
// each page when it is asked for, so a day of 100 tags at 1 s (8.64
// million values) costs no more memory than a page.
//
// For the bad-input tests, Hist.Expire is a history that forgets its
// continuation point after the first page (the next page is refused with
// BadContinuationPointInvalid by node-opcua's own checks), and Hist.Stray
// a historian that returns one value a second before and one a second after
// the interval asked for. Boiler1.OpenContinuationPoints is the number of
// history continuation points the server holds (all sessions);
// Boiler1.HistoryReads and Boiler1.HistoryReadMaxNodes count the
// HistoryRead requests that read values and the most nodes one asked for.
// GL001_HISTORY_MAX_NODES=m advertises m as MaxNodesPerHistoryReadData
// (node-opcua refuses larger requests with BadTooManyOperations).
//
// Usage: node opcua_server.mjs <certFile> <keyFile> <pkiDir> <user> <password> [port]
import {
	OPCUAServer,
	OPCUACertificateManager,
	MessageSecurityMode,
	SecurityPolicy,
	Variant,
	DataType,
	DataValue,
	StatusCodes,
	makeEUInformation,
} from "node-opcua";

const [certificateFile, privateKeyFile, pkiDir, user, password, portArg] = process.argv.slice(2);
if (!password) {
	console.error("usage: node opcua_server.mjs <certFile> <keyFile> <pkiDir> <user> <password>");
	process.exit(2);
}

const serverCertificateManager = new OPCUACertificateManager({
	rootFolder: pkiDir,
	automaticallyAcceptUnknownCertificate: true,
});

// Users may also present an X509 certificate; any is accepted, like clients.
const userCertificateManager = new OPCUACertificateManager({
	rootFolder: pkiDir + "-users",
	automaticallyAcceptUnknownCertificate: true,
});

const server = new OPCUAServer({
	host: "127.0.0.1",
	port: Number(portArg || 0), // a fixed port lets a test restart the server where the client expects it
	certificateFile,
	privateKeyFile,
	serverCertificateManager,
	userCertificateManager,
	serverInfo: { applicationUri: "urn:gl001:interop:server", productUri: "urn:gl001:interop" },
	securityPolicies: [SecurityPolicy.Basic256Sha256],
	securityModes: [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
	allowAnonymous: false,
	userManager: { isValidUser: (u, p) => u === user && p === password },
	serverCapabilities: process.env.GL001_HISTORY_MAX_NODES
		? { operationLimits: { maxNodesPerHistoryReadData: Number(process.env.GL001_HISTORY_MAX_NODES) } }
		: undefined,
});

await server.initialize();
const addressSpace = server.engine.addressSpace;
const ns = addressSpace.getOwnNamespace();
addressSpace.installAlarmsAndConditionsService();
const boiler = ns.addObject({
	organizedBy: addressSpace.rootFolder.objects,
	nodeId: "s=Boiler1",
	browseName: "Boiler1",
	eventNotifier: 1,
	notifierOf: addressSpace.rootFolder.objects.server,
});

let temp = 150;
setInterval(() => { temp += 0.5; }, 20);
ns.addAnalogDataItem({
	componentOf: boiler,
	nodeId: "s=Boiler1.SteamTemp",
	browseName: "SteamTemp",
	dataType: "Double",
	engineeringUnitsRange: { low: 0, high: 600 },
	engineeringUnits: makeEUInformation("CEL", "degC", "degree Celsius"),
	accessLevel: "CurrentRead",
	userAccessLevel: "CurrentRead",
	value: { get: () => new Variant({ dataType: DataType.Double, value: temp }) },
});
ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.BurnerOn",
	browseName: "BurnerOn",
	dataType: "Boolean",
	accessLevel: "CurrentRead",
	userAccessLevel: "CurrentRead",
	value: { get: () => new Variant({ dataType: DataType.Boolean, value: true }) },
});
let stage = 2;
ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.Stage",
	browseName: "Stage",
	dataType: "Int16",
	accessLevel: "CurrentRead | CurrentWrite",
	userAccessLevel: "CurrentRead | CurrentWrite",
	value: {
		get: () => new Variant({ dataType: DataType.Int16, value: stage }),
		set: (v) => { stage = v.value; return 0; },
	},
});

// Alarms: both active from the start, so a client that connects (or a
// server that restarts) has active conditions to refresh.
const flueTemp = ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.FlueTemp",
	browseName: "FlueTemp",
	dataType: "Double",
	eventSourceOf: boiler,
	value: { dataType: DataType.Double, value: 20 },
});
ns.instantiateExclusiveLimitAlarm("ExclusiveLimitAlarmType", {
	componentOf: boiler,
	nodeId: "s=Boiler1.FlueTempAlarm",
	browseName: "FlueTempAlarm",
	conditionName: "FlueTempHigh",
	conditionSource: flueTemp,
	inputNode: flueTemp,
	highHighLimit: 550,
	highLimit: 450,
	lowLimit: 0,
	lowLowLimit: -10,
	optionals: ["ConfirmedState", "Confirm"],
});
const flameOk = ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.FlameOk",
	browseName: "FlameOk",
	dataType: "Boolean",
	eventSourceOf: boiler,
	value: { dataType: DataType.Boolean, value: true },
});
const flameNormal = ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.FlameNormal",
	browseName: "FlameNormal",
	dataType: "Boolean",
	value: { dataType: DataType.Boolean, value: true },
});
ns.instantiateOffNormalAlarm({
	componentOf: boiler,
	nodeId: "s=Boiler1.FlameFailure",
	browseName: "FlameFailure",
	conditionName: "FlameFailure",
	conditionSource: flameOk,
	inputNode: flameOk,
	normalState: flameNormal,
});
flueTemp.setValueFromSource({ dataType: DataType.Double, value: 480 });
flameOk.setValueFromSource({ dataType: DataType.Boolean, value: false });

// The historian: a counter that steps by 1, historized in memory.
const counter = ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.Counter",
	browseName: "Counter",
	dataType: "Double",
	accessLevel: "CurrentRead | HistoryRead",
	userAccessLevel: "CurrentRead | HistoryRead",
	value: { dataType: DataType.Double, value: 0 },
});
addressSpace.installHistoricalDataNode(counter, { maxOnlineValues: 200000 });
let count = 0;
setInterval(() => {
	count += 1;
	counter.setValueFromSource({ dataType: DataType.Double, value: count }, 0, new Date());
}, 20);

let burstSeq = 0;
ns.addVariable({
	componentOf: boiler,
	nodeId: "s=Boiler1.EventBurst",
	browseName: "EventBurst",
	dataType: "UInt32",
	accessLevel: "CurrentRead | CurrentWrite",
	userAccessLevel: "CurrentRead | CurrentWrite",
	value: {
		get: () => new Variant({ dataType: DataType.UInt32, value: burstSeq }),
		set: (v) => {
			for (let i = 0; i < v.value; i++) {
				burstSeq += 1;
				boiler.raiseEvent("BaseEventType", {
					message: { dataType: DataType.LocalizedText, value: { text: "burst" } },
					severity: { dataType: DataType.UInt16, value: 500 },
				});
			}
			return 0;
		},
	},
});

// The synthetic historian (see the top of the file).
const histTags = Number(process.env.GL001_HISTORY_TAGS || 0);
let lastSecond = Math.floor(Date.now() / 1000); // the newest second published live
const histStart = lastSecond - Number(process.env.GL001_HISTORY_SECONDS || 0);
const histValue = (k, s) => k * 1e6 + (s % 1e6);
const histDataValue = (k, s) =>
	new DataValue({
		value: { dataType: DataType.Double, value: histValue(k, s) },
		statusCode: StatusCodes.Good,
		sourceTimestamp: new Date(s * 1000),
		serverTimestamp: new Date(s * 1000),
	});

// Seconds is the values of Hist.k for the seconds [first, last], computed a
// page at a time. node-opcua's continuation point manager keeps what a
// historian returns and takes it page by page with splice(0, n), checking
// length: this is all it needs, so nothing but the next second is stored.
class Seconds {
	constructor(k, first, last) {
		this.k = k;
		this.next = first;
		this.last = last;
	}
	get length() {
		return Math.max(this.last - this.next + 1, 0);
	}
	splice(start, n) {
		if (start !== 0) throw new Error("Seconds: splice from " + start);
		const out = [];
		for (; out.length < n && this.next <= this.last; this.next++) out.push(histDataValue(this.k, this.next));
		return out;
	}
}

// The historian of Hist.k: the seconds of [startTime, endTime] (node-opcua
// includes the end) that history holds.
class SyntheticHistorian {
	constructor(k, stray) {
		this.k = k;
		this.stray = stray;
	}
	async push() {} // live values are computed too: nothing to keep
	extractDataValues(details, maxNumberToExtract, isReversed, reverseDataValue, callback) {
		const from = Math.max(Math.ceil(details.startTime.getTime() / 1000), histStart);
		const to = Math.min(Math.floor(details.endTime.getTime() / 1000), lastSecond);
		const page = details.numValuesPerNode;
		if (this.stray) {
			// A broken historian: one value before the interval and one after.
			const out = [histDataValue(this.k, from - 1)];
			for (let s = from; s <= to; s++) out.push(histDataValue(this.k, s));
			out.push(histDataValue(this.k, to + 1));
			return callback(null, out);
		}
		const seq = new Seconds(this.k, from, to);
		if (page === 0 || seq.length <= page) return callback(null, seq.splice(0, seq.length));
		callback(null, seq);
	}
}

const histVars = [];
const addHist = (name, k, stray) => {
	const v = ns.addVariable({
		organizedBy: boiler,
		nodeId: "s=" + name,
		browseName: name,
		dataType: "Double",
		accessLevel: "CurrentRead | HistoryRead",
		userAccessLevel: "CurrentRead | HistoryRead",
		value: { dataType: DataType.Double, value: histValue(k, lastSecond) },
	});
	addressSpace.installHistoricalDataNode(v, { historian: new SyntheticHistorian(k, stray) });
	return v;
};
for (let k = 0; k < histTags; k++) histVars.push(addHist("Hist." + k, k, false));
addHist("Hist.Stray", 900, true);
const expire = addHist("Hist.Expire", 901, false);
const readRaw = expire._historyReadRaw;
expire._historyReadRaw = function (context, details, indexRange, dataEncoding, continuationData, callback) {
	readRaw.call(this, context, details, indexRange, dataEncoding, continuationData, (err, result) => {
		if (!err && result && result.continuationPoint) {
			context.session.continuationPointManager.clearContinuationPoint(result.continuationPoint);
		}
		callback(err, result);
	});
};
histVars.forEach((v, k) =>
	v.setValueFromSource({ dataType: DataType.Double, value: histValue(k, lastSecond) }, StatusCodes.Good, new Date(lastSecond * 1000)),
);
// Publish every second, at the second; a late timer catches up, so no
// second is skipped.
setInterval(() => {
	const now = Math.floor(Date.now() / 1000);
	for (let s = lastSecond + 1; s <= now; s++) {
		histVars.forEach((v, k) => v.setValueFromSource({ dataType: DataType.Double, value: histValue(k, s) }, StatusCodes.Good, new Date(s * 1000)));
		lastSecond = s;
	}
}, 50);
console.log("HISTORY " + histStart * 1000);

let historyReads = 0;
let historyReadMaxNodes = 0;
server.on("request", (request) => {
	if (request.schema.name === "HistoryReadRequest" && !request.releaseContinuationPoints) {
		historyReads++;
		historyReadMaxNodes = Math.max(historyReadMaxNodes, (request.nodesToRead || []).length);
	}
});
const counterVar = (name, get) =>
	ns.addVariable({
		componentOf: boiler,
		nodeId: "s=Boiler1." + name,
		browseName: name,
		dataType: "Double",
		accessLevel: "CurrentRead",
		userAccessLevel: "CurrentRead",
		minimumSamplingInterval: 0,
		value: { get: () => new Variant({ dataType: DataType.Double, value: get() }) },
	});
counterVar("OpenContinuationPoints", () =>
	Object.values(server.engine._sessions || {}).reduce((n, s) => n + (s.continuationPointManager?._map?.size || 0), 0),
);
counterVar("HistoryReads", () => historyReads);
counterVar("HistoryReadMaxNodes", () => historyReadMaxNodes);

await server.start();
console.log("READY opc.tcp://127.0.0.1:" + server.endpoints[0].port);

const stop = async () => { await server.shutdown(0); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop); // the test closes stdin to stop us
process.stdin.resume();
