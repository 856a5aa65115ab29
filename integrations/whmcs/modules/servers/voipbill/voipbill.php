<?php
/**
 * voipbill provisioning module for WHMCS: makes the Suspend, Unsuspend and Terminate buttons (and ModuleSuspend &
 * co. from the API and WHMCS's own automation) act on voipbill, synchronously, so WHMCS shows voipbill's answer.
 * Install as modules/servers/voipbill/voipbill.php and choose "voipbill VoIP" as the product's module
 * (Setup > Products/Services > Module Settings). See integrations/whmcs/README.md.
 *
 * Configuration, as for voipbill_hooks.php (constants in configuration.php win over environment variables):
 *   VOIPBILL_WEBHOOK_URL     e.g. https://voipbill.example.net/webhooks/whmcs (the module calls <that>/module)
 *   VOIPBILL_MODULE_URL      optional: the module endpoint itself, when it is not <VOIPBILL_WEBHOOK_URL>/module
 *   VOIPBILL_WEBHOOK_SECRET  the same value as voipbill's WEBHOOK_SECRET (at least 32 bytes)
 *
 * Each command is POSTed, signed like the hook's events (HMAC-SHA256 over "<timestamp>.<body>"), and voipbill
 * answers once it has carried it out: "success", or the reason it refuses (e.g. the balance rules would suspend the
 * service again at once), which WHMCS shows to the admin and which keeps the service's WHMCS status unchanged.
 */
if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

function voipbill_MetaData()
{
    return [
        'DisplayName' => 'voipbill VoIP',
        'APIVersion' => '1.1',
        'RequiresServer' => false,
    ];
}

/** No settings: voipbill's products file says how each product is billed and suspended. */
function voipbill_ConfigOptions()
{
    return [];
}

function voipbill_module_setting($name, $default = null)
{
    if (defined($name)) {
        return constant($name);
    }
    $env = getenv($name);
    return ($env === false || $env === '') ? $default : $env;
}

/** Seconds: an admin waits for the answer, so longer than the hooks' 4 s; voipbill answers within 20 s. */
function voipbill_module_timeouts()
{
    return ['connect' => 5, 'total' => 30];
}

function voipbill_module_url()
{
    $url = voipbill_module_setting('VOIPBILL_MODULE_URL');
    if ($url) {
        return $url;
    }
    $hook = voipbill_module_setting('VOIPBILL_WEBHOOK_URL');
    return $hook ? rtrim($hook, '/') . '/module' : null;
}

function voipbill_module_id()
{
    try {
        return bin2hex(random_bytes(12));
    } catch (\Throwable $e) {
        return uniqid('m', true);
    }
}

/**
 * POSTs one command; returns ['ok' => bool, 'message' => string, 'status' => int]. Never throws: WHMCS shows the
 * message to the admin.
 */
function voipbill_module_request($command, array $data)
{
    $url = voipbill_module_url();
    $secret = voipbill_module_setting('VOIPBILL_WEBHOOK_SECRET');
    if (!$url || !$secret) {
        return ['ok' => false, 'status' => 0, 'message' => 'voipbill module not configured: set VOIPBILL_WEBHOOK_URL and VOIPBILL_WEBHOOK_SECRET'];
    }
    $flags = JSON_UNESCAPED_SLASHES | (defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : 0);
    $body = json_encode(['id' => 'whmcs-module-' . voipbill_module_id(), 'command' => $command, 'sent_at' => gmdate('c'), 'data' => (object) $data], $flags);
    if (!is_string($body)) {
        return ['ok' => false, 'status' => 0, 'message' => 'voipbill: the command cannot be encoded as JSON (' . json_last_error_msg() . ')'];
    }
    $timestamp = (string) time();
    $headers = [
        'Content-Type: application/json',
        'X-Voipbill-Timestamp: ' . $timestamp,
        'X-Voipbill-Signature: sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret),
    ];
    $t = voipbill_module_timeouts();
    $status = 0;
    $response = false;
    $error = '';
    if (function_exists('curl_init')) {
        $ch = curl_init($url);
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => $t['connect'],
            CURLOPT_TIMEOUT => $t['total'],
            CURLOPT_HTTPHEADER => $headers,
        ]);
        $response = curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_HTTP_CODE);
        if ($response === false) {
            $error = curl_error($ch);
        }
        curl_close($ch);
    } else {
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $headers),
            'content' => $body,
            'timeout' => $t['total'],
            'ignore_errors' => true,
        ]]);
        $response = @file_get_contents($url, false, $context);
        if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
            $status = (int) $m[1];
        }
        if ($response === false) {
            $last = error_get_last();
            $error = 'connection failed' . ($last && isset($last['message']) ? ' (' . $last['message'] . ')' : '');
        }
    }
    if (function_exists('logModuleCall')) {
        logModuleCall('voipbill', $command, $body, $response === false ? $error : $response);
    }
    if ($response === false) {
        return ['ok' => false, 'status' => 0, 'message' => "voipbill cannot be reached at $url: $error"];
    }
    $answer = json_decode((string) $response, true);
    if ($status === 401) {
        return ['ok' => false, 'status' => $status, 'message' => 'voipbill refused the signature: VOIPBILL_WEBHOOK_SECRET must equal voipbill\'s WEBHOOK_SECRET, and the clocks must agree'];
    }
    if (!is_array($answer)) {
        return ['ok' => false, 'status' => $status, 'message' => "voipbill answered HTTP $status without a result"];
    }
    if (isset($answer['result']) && $answer['result'] === 'success') {
        return ['ok' => true, 'status' => $status, 'message' => isset($answer['message']) ? (string) $answer['message'] : ''];
    }
    $message = isset($answer['message']) ? (string) $answer['message'] : (isset($answer['error']) ? (string) $answer['error'] : "HTTP $status");
    return ['ok' => false, 'status' => $status, 'message' => $message];
}

/** A module command for one service: 'success' or voipbill's reason, as WHMCS expects. */
function voipbill_module_command($command, array $params)
{
    try {
        $data = [
            'serviceid' => isset($params['serviceid']) ? (int) $params['serviceid'] : 0,
            'userid' => isset($params['userid']) ? (int) $params['userid'] : 0,
            'pid' => isset($params['pid']) ? (int) $params['pid'] : 0,
        ];
        if (isset($params['suspendreason']) && $params['suspendreason'] !== '') {
            $data['reason'] = (string) $params['suspendreason'];
        }
        $r = voipbill_module_request($command, $data);
        return $r['ok'] ? 'success' : $r['message'];
    } catch (\Throwable $e) {
        return 'voipbill module error: ' . $e->getMessage();
    }
}

function voipbill_CreateAccount(array $params)
{
    return voipbill_module_command('create', $params);
}

function voipbill_SuspendAccount(array $params)
{
    return voipbill_module_command('suspend', $params);
}

function voipbill_UnsuspendAccount(array $params)
{
    return voipbill_module_command('unsuspend', $params);
}

function voipbill_TerminateAccount(array $params)
{
    return voipbill_module_command('terminate', $params);
}

/** Product > Module Settings > Test Connection: the URL answers, and accepts the signature. */
function voipbill_TestConnection(array $params)
{
    try {
        $r = voipbill_module_request('test', []);
        return ['success' => $r['ok'], 'error' => $r['ok'] ? '' : $r['message']];
    } catch (\Throwable $e) {
        return ['success' => false, 'error' => 'voipbill module error: ' . $e->getMessage()];
    }
}
