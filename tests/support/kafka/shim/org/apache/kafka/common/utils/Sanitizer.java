package org.apache.kafka.common.utils;

/**
 * Where Debezium 3.6.1 (built against Kafka 4.3) looks for Kafka's Sanitizer, which Kafka 4.4
 * moved to org.apache.kafka.common.utils.internals: it forwards there. Without it every
 * Debezium task on a Connect 4.4 worker fails with a NoClassDefFoundError.
 */
public final class Sanitizer {
    private Sanitizer() {}

    public static String sanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.sanitize(name);
    }

    public static String desanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.desanitize(name);
    }

    public static String jmxSanitize(String name) {
        return org.apache.kafka.common.utils.internals.Sanitizer.jmxSanitize(name);
    }
}
