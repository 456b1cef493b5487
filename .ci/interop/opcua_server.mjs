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
// "burst") at once, for the event benchmark. With GL001_HISTORY_TAGS=n and
// GL001_HISTORY_SECONDS=s in the environment, Hist.0 .. Hist.<n-1> hold s
// seconds of history at 1 s ending now (value = seconds since the start),
// for the history benchmark.
//
// Usage: node opcua_server.mjs <certFile> <keyFile> <pkiDir> <user> <password> [port]
import {
	OPCUAServer,
	OPCUACertificateManager,
	MessageSecurityMode,
	SecurityPolicy,
	Variant,
	DataType,
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

const histTags = Number(process.env.GL001_HISTORY_TAGS || 0);
const histSeconds = Number(process.env.GL001_HISTORY_SECONDS || 0);
if (histTags > 0 && histSeconds > 0) {
	const end = Date.now() - (Date.now() % 1000);
	const start = end - histSeconds * 1000;
	for (let k = 0; k < histTags; k++) {
		const v = ns.addVariable({
			organizedBy: boiler,
			nodeId: "s=Hist." + k,
			browseName: "Hist" + k,
			dataType: "Double",
			accessLevel: "CurrentRead | HistoryRead",
			userAccessLevel: "CurrentRead | HistoryRead",
			value: { dataType: DataType.Double, value: 0 },
		});
		addressSpace.installHistoricalDataNode(v, { maxOnlineValues: histSeconds + 10 });
		for (let t = 0; t < histSeconds; t++) {
			v.setValueFromSource({ dataType: DataType.Double, value: t }, 0, new Date(start + t * 1000));
		}
	}
	console.log("HISTORY " + start);
}

await server.start();
console.log("READY opc.tcp://127.0.0.1:" + server.endpoints[0].port);

const stop = async () => { await server.shutdown(0); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop); // the test closes stdin to stop us
process.stdin.resume();
