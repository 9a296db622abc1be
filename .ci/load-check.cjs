// Loads the built package both ways, as a consumer would: require() and import().
const cjs = require('netiquette')
const cjsTesting = require('netiquette/testing')
const cjsRedis = require('netiquette/redis')
const cjsFleet = require('netiquette/fleet')

async function main() {
  const esm = await import('netiquette')
  const esmTesting = await import('netiquette/testing')
  const checks = [
    ['require("netiquette").createClient', typeof cjs.createClient === 'function'],
    [
      'require("netiquette/testing").createFaultServer',
      typeof cjsTesting.createFaultServer === 'function',
    ],
    ['require("netiquette/redis").redisStore', typeof cjsRedis.redisStore === 'function'],
    ['require("netiquette/fleet").runFleet', typeof cjsFleet.runFleet === 'function'],
    ['import("netiquette").createClient', typeof esm.createClient === 'function'],
    // One module instance both ways, not a CommonJS copy beside the ES module.
    ['require and import give the same Client', cjs.Client === esm.Client],
    [
      'import("netiquette/testing").createFaultServer',
      typeof esmTesting.createFaultServer === 'function',
    ],
  ]
  for (const [name, ok] of checks) {
    if (!ok) throw new Error(`${name} is missing from the built package`)
  }
  console.log(`${process.version}: import and require both load netiquette`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
