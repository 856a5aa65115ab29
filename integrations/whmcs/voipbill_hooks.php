<?php
/**
 * voipbill hooks for WHMCS: forwards top-ups, transactions, module commands and client edits to voipbill's webhook,
 * signed with HMAC-SHA256 over "<timestamp>.<body>". Install as includes/hooks/voipbill_hooks.php (see README.md).
 *
 * Configuration (constants in configuration.php win over environment variables):
 *   VOIPBILL_WEBHOOK_URL     e.g. https://voipbill.example.net/webhooks/whmcs
 *   VOIPBILL_WEBHOOK_SECRET  the same value as voipbill's WEBHOOK_SECRET (at least 32 bytes)
 *   VOIPBILL_CALL_RECORDS_URL       e.g. https://voipbill.example.net/call-records (unset: no Call Records button)
 *   VOIPBILL_CALL_RECORDS_SECRET    the same value as voipbill's CALL_RECORDS_LINK_SECRET (at least 32 bytes)
 *   VOIPBILL_CALL_RECORDS_TTL       link lifetime in seconds, at most voipbill's CALL_RECORDS_LINK_TTL_SECONDS (3600)
 *   VOIPBILL_CALL_RECORDS_PRODUCTS  optional comma-separated product IDs that get the button (default: all)
 *
 * Hooks run inside WHMCS's own requests (payment callbacks, admin pages, cron), so this file never throws and never
 * waits long: it waits at most 2 s to connect and 4 s in total (voipbill_timeouts()). A failed delivery is written to
 * the WHMCS activity log; voipbill's periodic reconciliation is the safety net for anything lost.
 */
if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

if (!function_exists('voipbill_setting')) {
    function voipbill_setting($name, $default = null)
    {
        if (defined($name)) {
            return constant($name);
        }
        $env = getenv($name);
        return ($env === false || $env === '') ? $default : $env;
    }

    /** The signature voipbill checks: "sha256=" . hex(HMAC-SHA256(secret, timestamp . "." . body)). */
    function voipbill_sign($secret, $timestamp, $body)
    {
        return 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    }

    /** Exact money arithmetic on WHMCS's decimal strings (no floats): "12.5" -> 1250. Null when unparsable. */
    function voipbill_cents($amount)
    {
        $text = trim((string) $amount);
        if (!preg_match('/^(-?)(\d*)(?:\.(\d{0,2}))?$/', $text, $m) || ($m[2] === '' && (!isset($m[3]) || $m[3] === ''))) {
            return null;
        }
        $cents = ((int) ($m[2] === '' ? '0' : $m[2])) * 100 + (int) str_pad(isset($m[3]) ? $m[3] : '', 2, '0');
        return $m[1] === '-' ? -$cents : $cents;
    }

    function voipbill_format_cents($cents)
    {
        $sign = $cents < 0 ? '-' : '';
        $abs = abs($cents);
        return $sign . intdiv($abs, 100) . '.' . str_pad((string) ($abs % 100), 2, '0', STR_PAD_LEFT);
    }

    function voipbill_log($message)
    {
        try {
            if (function_exists('logActivity')) {
                logActivity('voipbill webhook: ' . $message);
            }
        } catch (\Throwable $e) {
            // Logging is best effort: a failing activity log must not break the WHMCS request either.
        }
    }

    /** Seconds: [connect, total]. The READMEs state the same values (a test keeps them in step). */
    function voipbill_timeouts()
    {
        return ['connect' => 2, 'total' => 4];
    }

    /**
     * Wraps a hook callback so nothing it throws reaches WHMCS (a hook runs inside a payment callback, an admin page
     * or the cron); the failure is logged and the hook point gets `$fallback`.
     */
    function voipbill_guard($name, callable $callback, $fallback = null)
    {
        return function ($vars) use ($name, $callback, $fallback) {
            try {
                return $callback($vars);
            } catch (\Throwable $e) {
                voipbill_log("$name failed: " . $e->getMessage());
                return $fallback;
            }
        };
    }

    /** POSTs the body; returns [httpStatus or 0, error text or '']. */
    function voipbill_post($url, array $headers, $body)
    {
        $timeouts = voipbill_timeouts();
        $transport = voipbill_setting('VOIPBILL_WEBHOOK_TRANSPORT', function_exists('curl_init') ? 'curl' : 'stream');
        if ($transport === 'curl') {
            $ch = curl_init($url);
            curl_setopt_array($ch, [
                CURLOPT_POST => true,
                CURLOPT_POSTFIELDS => $body,
                CURLOPT_RETURNTRANSFER => true,
                CURLOPT_CONNECTTIMEOUT => $timeouts['connect'],
                CURLOPT_TIMEOUT => $timeouts['total'],
                CURLOPT_HTTPHEADER => $headers,
            ]);
            $response = curl_exec($ch);
            $status = (int) curl_getinfo($ch, CURLINFO_HTTP_CODE);
            $error = $response === false ? curl_error($ch) : '';
            curl_close($ch);
            return [$status, $error];
        }
        // PHP's stream wrapper applies one timeout to the connection and to each wait for the answer: the connect
        // limit for both keeps the whole exchange within the total. Only the status line is needed, so the body is
        // never read.
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => implode("\r\n", $headers),
            'content' => $body,
            'timeout' => $timeouts['connect'],
            'ignore_errors' => true,
        ]]);
        $stream = @fopen($url, 'r', false, $context);
        $status = 0;
        if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
            $status = (int) $m[1];
        }
        $error = '';
        if ($stream === false) {
            $last = error_get_last();
            $error = 'connection failed' . ($last && isset($last['message']) ? ' (' . $last['message'] . ')' : '');
        } else {
            fclose($stream);
        }
        return [$status, $error];
    }

    /**
     * The installation the events come from: WHMCS's System URL (VOIPBILL_WHMCS_INSTALLATION overrides it). Invoice
     * and transaction numbers repeat across installations and after a restore from a backup, so voipbill tells events
     * apart by installation, ID and content, never by the ID alone.
     */
    function voipbill_installation()
    {
        $configured = voipbill_setting('VOIPBILL_WHMCS_INSTALLATION');
        if ($configured) {
            return (string) $configured;
        }
        try {
            if (class_exists('\WHMCS\Config\Setting')) {
                $url = \WHMCS\Config\Setting::getValue('SystemURL');
                if (is_string($url) && $url !== '') {
                    return $url;
                }
            }
        } catch (\Throwable $e) {
            // Older WHMCS: the global configuration array below.
        }
        return isset($GLOBALS['CONFIG']['SystemURL']) ? (string) $GLOBALS['CONFIG']['SystemURL'] : '';
    }

    function voipbill_forward($event, $eventId, array $data)
    {
        try {
            $url = voipbill_setting('VOIPBILL_WEBHOOK_URL');
            $secret = voipbill_setting('VOIPBILL_WEBHOOK_SECRET');
            if (!$url || !$secret) {
                voipbill_log("not configured (VOIPBILL_WEBHOOK_URL / VOIPBILL_WEBHOOK_SECRET); $event not sent");
                return;
            }
            // Text from WHMCS (gateway names, transaction ids) may hold invalid UTF-8: it is replaced by U+FFFD rather
            // than making json_encode fail. Anything else it cannot encode is logged and not posted: an empty or
            // partial body would only be refused by voipbill.
            $flags = JSON_UNESCAPED_SLASHES | (defined('JSON_INVALID_UTF8_SUBSTITUTE') ? JSON_INVALID_UTF8_SUBSTITUTE : 0);
            $body = json_encode(['id' => $eventId, 'event' => $event, 'sent_at' => gmdate('c'), 'installation' => voipbill_installation(), 'data' => $data], $flags);
            if (!is_string($body)) {
                voipbill_log("$event $eventId not sent: the payload cannot be encoded as JSON (" . json_last_error_msg() . ')');
                return;
            }
            $timestamp = (string) time();
            list($status, $error) = voipbill_post($url, [
                'Content-Type: application/json',
                'X-Voipbill-Timestamp: ' . $timestamp,
                'X-Voipbill-Signature: ' . voipbill_sign($secret, $timestamp, $body),
                'X-Voipbill-Event-Id: ' . $eventId,
            ], $body);
            if ($error !== '' || $status < 200 || $status >= 300) {
                voipbill_log("$event $eventId failed: " . ($error !== '' ? $error : "HTTP $status"));
            }
        } catch (\Throwable $e) {
            voipbill_log("$event failed: " . $e->getMessage());
        }
    }

    function voipbill_random_id($event, $subject)
    {
        try {
            $suffix = bin2hex(random_bytes(8));
        } catch (\Throwable $e) {
            // No usable secure random source: the suffix only has to be unique (voipbill deduplicates by id), not
            // secret, so the event is still delivered.
            $suffix = str_replace('.', '', uniqid('', true));
        }
        return 'whmcs-' . str_replace('.', '-', $event) . '-' . $subject . '-' . $suffix;
    }

    /** Items of a localAPI GetInvoice answer, whatever the list shape. */
    function voipbill_invoice_items(array $invoice)
    {
        $items = isset($invoice['items']['item']) ? $invoice['items']['item'] : [];
        if (!is_array($items)) {
            return [];
        }
        return isset($items['type']) ? [$items] : $items;
    }

    function voipbill_on_invoice_paid($vars)
    {
        try {
            $invoiceId = (int) (isset($vars['invoiceid']) ? $vars['invoiceid'] : 0);
            $invoice = localAPI('GetInvoice', ['invoiceid' => $invoiceId]);
            if (!is_array($invoice) || !isset($invoice['result']) || $invoice['result'] !== 'success') {
                voipbill_log("GetInvoice $invoiceId failed: " . (isset($invoice['message']) ? $invoice['message'] : 'no answer'));
                return;
            }
            $topup = 0;
            foreach (voipbill_invoice_items($invoice) as $item) {
                if (isset($item['type']) && $item['type'] === 'AddFunds') {
                    $topup += (int) voipbill_cents(isset($item['amount']) ? $item['amount'] : '0');
                }
            }
            // Only top-ups: usage invoices that voipbill itself raised and paid from credit are not news to it.
            if ($topup <= 0) {
                return;
            }
            voipbill_forward('invoice.paid', 'whmcs-invoice-paid-' . $invoiceId, [
                'invoiceid' => $invoiceId,
                'userid' => (int) (isset($invoice['userid']) ? $invoice['userid'] : 0),
                'total' => isset($invoice['total']) ? (string) $invoice['total'] : null,
                'is_topup' => true,
                'topup_amount' => voipbill_format_cents($topup),
                // With the amount, what tells this payment from another invoice that got the same number.
                'datepaid' => isset($invoice['datepaid']) ? (string) $invoice['datepaid'] : null,
            ]);
        } catch (\Throwable $e) {
            voipbill_log('InvoicePaid failed: ' . $e->getMessage());
        }
    }

    function voipbill_on_transaction($vars)
    {
        $vars = is_array($vars) ? $vars : [];
        $data = [];
        foreach (['id', 'userid', 'amountin', 'amountout', 'invoiceid', 'transid', 'gateway', 'date'] as $key) {
            $data[$key] = isset($vars[$key]) ? $vars[$key] : null;
        }
        voipbill_forward('transaction.added', 'whmcs-transaction-' . (int) $data['id'], $data);
    }

    function voipbill_module_hook($event)
    {
        return function ($vars) use ($event) {
            $params = is_array($vars) && isset($vars['params']) && is_array($vars['params']) ? $vars['params'] : [];
            $serviceId = (int) (isset($params['serviceid']) ? $params['serviceid'] : 0);
            voipbill_forward($event, voipbill_random_id($event, $serviceId), [
                'serviceid' => $serviceId,
                'userid' => (int) (isset($params['userid']) ? $params['userid'] : 0),
            ]);
        };
    }

    function voipbill_on_client_edit($vars)
    {
        $userId = (int) (is_array($vars) && isset($vars['userid']) ? $vars['userid'] : 0);
        voipbill_forward('client.edited', voipbill_random_id('client.edited', $userId), ['userid' => $userId]);
    }

    /**
     * The signed, expiring link to one service's call records, as voipbill checks it (src/api/signed-links.ts):
     * hex(HMAC-SHA256(secret, "voipbill-call-records.v1.<client>.<service>.<expires>")). Null when not configured.
     */
    function voipbill_call_records_url($clientId, $serviceId, $now = null)
    {
        $url = voipbill_setting('VOIPBILL_CALL_RECORDS_URL');
        $secret = voipbill_setting('VOIPBILL_CALL_RECORDS_SECRET');
        $clientId = (int) $clientId;
        $serviceId = (int) $serviceId;
        if (!$url || !$secret || $clientId <= 0 || $serviceId <= 0) {
            return null;
        }
        $expires = ($now === null ? time() : (int) $now) + max(60, (int) voipbill_setting('VOIPBILL_CALL_RECORDS_TTL', 3600));
        $sig = hash_hmac('sha256', "voipbill-call-records.v1.$clientId.$serviceId.$expires", $secret);
        return $url . '?' . http_build_query(['client' => $clientId, 'service' => $serviceId, 'expires' => $expires, 'sig' => $sig]);
    }

    /** Client and service of the product details page: a \WHMCS\Service\Service model, or an array. */
    function voipbill_page_service($vars)
    {
        $service = isset($vars['service']) ? $vars['service'] : null;
        if (is_object($service)) {
            return [(int) $service->userid, (int) $service->id, (int) $service->packageid];
        }
        if (is_array($service)) {
            return [(int) (isset($service['userid']) ? $service['userid'] : 0), (int) (isset($service['id']) ? $service['id'] : 0),
                (int) (isset($service['packageid']) ? $service['packageid'] : 0)];
        }
        return [0, 0, 0];
    }

    function voipbill_product_has_call_records($productId)
    {
        $only = trim((string) voipbill_setting('VOIPBILL_CALL_RECORDS_PRODUCTS', ''));
        return $only === '' || in_array((string) $productId, array_map('trim', explode(',', $only)), true);
    }

    /** Template variable {$voipbill_call_records_url} for themes that place the button themselves. */
    function voipbill_on_product_details($vars)
    {
        try {
            list($clientId, $serviceId, $productId) = voipbill_page_service($vars);
            $link = voipbill_product_has_call_records($productId) ? voipbill_call_records_url($clientId, $serviceId) : null;
            return $link === null ? [] : ['voipbill_call_records_url' => $link];
        } catch (\Throwable $e) {
            voipbill_log('call records link failed: ' . $e->getMessage());
            return [];
        }
    }

    /** The "Call Records" button on the product details page of any theme. */
    function voipbill_on_product_details_output($vars)
    {
        $link = voipbill_on_product_details($vars);
        if (!isset($link['voipbill_call_records_url'])) {
            return '';
        }
        $href = htmlspecialchars($link['voipbill_call_records_url'], ENT_QUOTES, 'UTF-8');
        return '<p><a class="btn btn-default" href="' . $href . '" target="_blank" rel="noopener noreferrer">Call Records</a></p>';
    }
}

// Every callback is guarded: whatever fails inside (an id, an encoding, a lookup) is logged, never thrown into WHMCS.
add_hook('InvoicePaid', 1, voipbill_guard('InvoicePaid', 'voipbill_on_invoice_paid'));
add_hook('AddTransaction', 1, voipbill_guard('AddTransaction', 'voipbill_on_transaction'));
add_hook('AfterModuleCreate', 1, voipbill_guard('AfterModuleCreate', voipbill_module_hook('service.created')));
add_hook('AfterModuleSuspend', 1, voipbill_guard('AfterModuleSuspend', voipbill_module_hook('service.suspended')));
add_hook('AfterModuleUnsuspend', 1, voipbill_guard('AfterModuleUnsuspend', voipbill_module_hook('service.unsuspended')));
add_hook('AfterModuleTerminate', 1, voipbill_guard('AfterModuleTerminate', voipbill_module_hook('service.terminated')));
add_hook('ClientEdit', 1, voipbill_guard('ClientEdit', 'voipbill_on_client_edit'));
add_hook('ClientAreaProductDetails', 1, voipbill_guard('ClientAreaProductDetails', 'voipbill_on_product_details', []));
add_hook('ClientAreaProductDetailsOutput', 1, voipbill_guard('ClientAreaProductDetailsOutput', 'voipbill_on_product_details_output', ''));
